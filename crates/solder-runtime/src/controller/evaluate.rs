//! Evaluating one component body (or the config blocks) against a scope and decoding it.

use super::config_blocks::{
    decode_livedebugging, decode_logging, decode_tracing, ConfigBlocks, EvaluatedConfig,
};
use super::graph::ComponentDecl;
use solder_core::AnyArgs;
use solder_syntax::eval::{eval_body, BodyValue, Scope};
use solder_syntax::Diagnostics;
use std::time::{Duration, Instant};

pub struct Evaluated {
    pub result: Result<(BodyValue, AnyArgs), Diagnostics>,
    pub took: Duration,
}

/// Evaluate the block body and decode it with the component's builder (the validate phase).
pub fn evaluate_node(decl: &ComponentDecl, scope: &dyn Scope) -> Evaluated {
    let start = Instant::now();
    let result = eval_body(&decl.block.body, decl.block.span, scope).and_then(|body| {
        let args = decl.builder.decode(&body)?;
        Ok((body, args))
    });
    Evaluated {
        result,
        took: start.elapsed(),
    }
}

/// Evaluate and decode `logging`, `tracing` and `livedebugging` (absent blocks give defaults).
pub fn evaluate_config(
    blocks: &ConfigBlocks,
    scope: &dyn Scope,
) -> Result<EvaluatedConfig, Diagnostics> {
    let mut diags = Diagnostics::new();
    let mut out = EvaluatedConfig::default();
    let mut body_of = |block: &Option<solder_syntax::ast::Block>| -> Option<BodyValue> {
        let b = block.as_ref()?;
        match eval_body(&b.body, b.span, scope) {
            Ok(v) => Some(v),
            Err(d) => {
                diags.extend(d);
                None
            }
        }
    };
    let logging = body_of(&blocks.logging);
    let tracing = body_of(&blocks.tracing);
    let live = body_of(&blocks.livedebugging);
    // `http {}` has no attributes of its own that Solder honours; its blocks were rejected
    // when the graph was built, but its expressions must still evaluate.
    let _ = body_of(&blocks.http);
    if let Some(b) = logging {
        match decode_logging(&b) {
            Ok(c) => out.logging = c,
            Err(d) => diags.extend(d),
        }
    }
    if let Some(b) = tracing {
        match decode_tracing(&b) {
            Ok(c) => out.tracing = c,
            Err(d) => diags.extend(d),
        }
    }
    if let Some(b) = live {
        match decode_livedebugging(&b) {
            Ok(c) => out.livedebugging = c,
            Err(d) => diags.extend(d),
        }
    }
    if diags.has_errors() {
        Err(diags)
    } else {
        Ok(out)
    }
}
