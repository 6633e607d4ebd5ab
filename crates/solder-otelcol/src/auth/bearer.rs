//! `otelcol.auth.bearer` (not implemented yet; registers nothing, so configs using it fail `check` by name).

use solder_core::Registry;

pub fn register(_reg: &mut Registry) {}
