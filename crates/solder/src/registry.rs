//! The explicit list of every component type this binary can run: the builtins and one
//! `register` function per component crate, each of which lists its crate's components by type.
//! Adding a component crate means adding one line here; nothing is discovered at link time.

use solder_core::Registry;

pub fn registry() -> Registry {
    let mut reg = Registry::new();
    // local.file, discovery.relabel, prometheus.exporter.self
    solder_runtime::register_builtins(&mut reg);
    solder_prometheus::register(&mut reg);
    solder_otelcol::register(&mut reg);
    reg
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_the_builtins() {
        let reg = super::registry();
        let names: Vec<&str> = reg.names().collect();
        for want in [
            "local.file",
            "discovery.relabel",
            "prometheus.exporter.self",
            "prometheus.relabel",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
    }
}
