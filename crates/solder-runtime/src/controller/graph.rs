//! From parsed files to the component graph: classify top-level blocks, resolve component
//! names against the registry, wire reference edges, reject cycles and compute the
//! evaluation order. Pure: nothing is built or evaluated here, and every error of the config
//! is collected before returning.

use super::config_blocks::{self, ConfigBlocks};
use super::known_components::is_alloy_component;
use super::suggest::suggest;
use solder_core::{ComponentBuilder, Registry, Stability};
use solder_syntax::ast::{self, Stmt};
use solder_syntax::{Diagnostic, Diagnostics, SourceMap, Span};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

/// One component block of the config.
#[derive(Clone)]
pub struct ComponentDecl {
    /// `prometheus.scrape.default`
    pub id: String,
    /// `prometheus.scrape`
    pub name: String,
    pub label: String,
    pub block: ast::Block,
    pub builder: Arc<dyn ComponentBuilder>,
}

/// A reference from a component body to another component's exports.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Index of the referenced component in [`Graph::nodes`].
    pub target: usize,
    /// The whole traversal (`discovery.kubernetes.pods.targets`).
    pub span: Span,
}

/// The validated component graph of one load.
pub struct Graph {
    /// Components in source order (files in load order).
    pub nodes: Vec<ComponentDecl>,
    pub by_id: HashMap<String, usize>,
    /// References made by each node's body, in source order.
    pub refs: Vec<Vec<Reference>>,
    /// Distinct nodes each node references.
    pub deps: Vec<Vec<usize>>,
    /// Distinct nodes referencing each node.
    pub dependants: Vec<Vec<usize>>,
    /// Topological order: every node after all of its dependencies; ties in source order.
    pub order: Vec<usize>,
    /// Position of each node in `order`.
    pub rank: Vec<usize>,
    pub config: ConfigBlocks,
    /// References made by config blocks (`tracing { write_to = … }`); evaluated after all nodes.
    pub config_refs: Vec<Reference>,
}

impl Graph {
    pub fn node(&self, id: &str) -> Option<&ComponentDecl> {
        self.by_id.get(id).map(|&i| &self.nodes[i])
    }

    /// Every node reachable through `dependants` from `roots`, excluding the roots themselves
    /// unless reachable from another root, sorted in evaluation order.
    pub fn transitive_dependants(&self, roots: &[usize]) -> Vec<usize> {
        let mut seen = vec![false; self.nodes.len()];
        let mut stack: Vec<usize> = Vec::new();
        for &r in roots {
            stack.extend(self.dependants[r].iter().copied());
        }
        while let Some(n) = stack.pop() {
            if seen[n] {
                continue;
            }
            seen[n] = true;
            stack.extend(self.dependants[n].iter().copied());
        }
        let mut out: Vec<usize> = (0..self.nodes.len()).filter(|&i| seen[i]).collect();
        out.sort_by_key(|&i| self.rank[i]);
        out
    }
}

/// Build the graph of all files. `min_stability` is `--stability.level`.
pub fn build_graph(
    files: &[ast::File],
    map: &SourceMap,
    registry: &Registry,
    min_stability: Stability,
) -> Result<Graph, Diagnostics> {
    let (graph, diags) = build_graph_partial(files, map, registry, min_stability);
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(graph)
}

/// Like [`build_graph`], but always returns the graph of the blocks that did resolve, beside
/// the errors, so `check` can still validate the arguments of every known component and report
/// all errors of a config at once. Nodes caught in a cycle are missing from `order`.
pub fn build_graph_partial(
    files: &[ast::File],
    map: &SourceMap,
    registry: &Registry,
    min_stability: Stability,
) -> (Graph, Diagnostics) {
    let mut diags = Diagnostics::new();
    let mut config = ConfigBlocks::default();
    let mut nodes: Vec<ComponentDecl> = Vec::new();
    // Every top-level id (config blocks included) to the span of its first declaration.
    let mut declared: HashMap<String, Span> = HashMap::new();
    // Ids of component blocks already reported (unknown or unsupported type, bad label):
    // references to them would only repeat that error.
    let mut rejected: HashSet<String> = HashSet::new();

    for file in files {
        for stmt in &file.body {
            let block = match stmt {
                Stmt::Attribute(a) => {
                    diags.push(Diagnostic::error(
                        a.name.span,
                        format!("unrecognized attribute {}", a.name.name),
                    ));
                    continue;
                }
                Stmt::Block(b) => b,
            };
            let name = block.full_name();
            let id = block.id();
            if let Some(first) = declared.get(&id) {
                diags.push(Diagnostic::error(
                    block.name_span(),
                    format!("block {id} already declared at {}", map.position(*first)),
                ));
                continue;
            }
            declared.insert(id.clone(), block.span);

            if config_blocks::is_config_block(&name) {
                diags.extend(config_blocks::accept(block, &mut config));
                continue;
            }

            match component_decl(block, &name, registry, min_stability) {
                Ok(decl) => nodes.push(decl),
                Err(d) => {
                    diags.push(d);
                    rejected.insert(id);
                }
            }
        }
    }

    let by_id: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.clone(), i))
        .collect();

    let mut refs = Vec::with_capacity(nodes.len());
    for (i, n) in nodes.iter().enumerate() {
        let (r, d) = resolve_references(
            &ast::body_traversals(&n.block.body),
            &nodes,
            &by_id,
            &rejected,
            min_stability,
        );
        diags.extend(d);
        for reference in &r {
            if reference.target == i {
                diags.push(Diagnostic::error(
                    reference.span,
                    format!("self reference: {}", n.id),
                ));
            }
        }
        refs.push(r);
    }
    let mut config_refs = Vec::new();
    for block in config.blocks() {
        let (r, d) = resolve_references(
            &ast::body_traversals(&block.body),
            &nodes,
            &by_id,
            &rejected,
            min_stability,
        );
        diags.extend(d);
        config_refs.extend(r);
    }

    let deps: Vec<Vec<usize>> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let set: BTreeSet<usize> = r.iter().map(|x| x.target).filter(|&t| t != i).collect();
            set.into_iter().collect()
        })
        .collect();
    let mut dependants = vec![Vec::new(); nodes.len()];
    for (i, d) in deps.iter().enumerate() {
        for &t in d {
            dependants[t].push(i);
        }
    }

    for cycle in find_cycles(&deps) {
        let names: Vec<&str> = cycle.iter().map(|&i| nodes[i].id.as_str()).collect();
        diags.push(Diagnostic::error(
            nodes[cycle[0]].block.name_span(),
            format!("cycle: {}", names.join(", ")),
        ));
    }

    let order = topological_order(&deps);
    let mut rank = vec![0; nodes.len()];
    for (pos, &n) in order.iter().enumerate() {
        rank[n] = pos;
    }
    let graph = Graph {
        nodes,
        by_id,
        refs,
        deps,
        dependants,
        order,
        rank,
        config,
        config_refs,
    };
    (graph, diags)
}

/// Check a component block against the registry.
fn component_decl(
    block: &ast::Block,
    name: &str,
    registry: &Registry,
    min_stability: Stability,
) -> Result<ComponentDecl, Diagnostic> {
    let name_span = block
        .name
        .first()
        .map(|f| f.span)
        .unwrap_or(block.span)
        .to(block.name.last().map(|l| l.span).unwrap_or(block.span));
    let Some(builder) = registry.get(name) else {
        let msg = if is_alloy_component(name) {
            format!("component {name:?} is not supported by Solder yet")
        } else {
            let mut msg = format!("cannot find the definition of component name {name:?}");
            if let Some(s) = suggest(name, registry.names()) {
                msg.push_str(&format!(" (did you mean {s:?}?)"));
            }
            msg
        };
        return Err(Diagnostic::error(name_span, msg));
    };
    let label = match &block.label {
        Some(l) if !l.value.is_empty() => l.value.clone(),
        _ => {
            return Err(Diagnostic::error(
                name_span,
                format!("component {name:?} must have a label"),
            ))
        }
    };
    let stability = builder.stability();
    if stability < min_stability {
        return Err(Diagnostic::error(
            name_span,
            stability_error(&format!("component {name:?}"), stability, min_stability),
        ));
    }
    Ok(ComponentDecl {
        id: block.id(),
        name: name.to_string(),
        label,
        block: block.clone(),
        builder: builder.clone(),
    })
}

/// Standard-library functions Alloy marks experimental (spec §1.8).
const EXPERIMENTAL_STDLIB: &[&str] = &["array.combine_maps", "array.group_by"];

/// Alloy's feature-gate message (`internal/featuregate`).
pub fn stability_error(feature: &str, have: Stability, min: Stability) -> String {
    format!(
        "{feature} is at stability level {:?}, which is below the minimum allowed stability level {:?}. Use --stability.level command-line flag to enable {:?} features",
        have.as_str(),
        min.as_str(),
        have.as_str()
    )
}

/// Resolve traversals to components: the shortest prefix naming a component wins, as in
/// Alloy's `ResolveTraversal`. A traversal that names no component must start with a stdlib
/// name; a component reference must name an export the component type declares.
fn resolve_references(
    traversals: &[ast::Traversal],
    nodes: &[ComponentDecl],
    by_id: &HashMap<String, usize>,
    rejected: &HashSet<String>,
    min_stability: Stability,
) -> (Vec<Reference>, Diagnostics) {
    let mut refs = Vec::new();
    let mut diags = Diagnostics::new();
    for t in traversals {
        let mut found = None;
        let mut prefix = String::new();
        let mut names_rejected = false;
        for (k, part) in t.parts.iter().enumerate() {
            if k > 0 {
                prefix.push('.');
            }
            prefix.push_str(part);
            if let Some(&i) = by_id.get(&prefix) {
                found = Some((i, k + 1));
                break;
            }
            if rejected.contains(&prefix) {
                names_rejected = true;
                break;
            }
        }
        if names_rejected {
            continue;
        }
        match found {
            Some((target, used)) => {
                let decl = &nodes[target];
                if let Some(field) = t.parts.get(used) {
                    let exports = decl.builder.exports();
                    if !exports.contains(&field.as_str()) {
                        let list = if exports.is_empty() {
                            "it has no exports".to_string()
                        } else {
                            format!("its exports are: {}", exports.join(", "))
                        };
                        diags.push(Diagnostic::error(
                            t.span,
                            format!(
                                "field {field:?} does not exist: component {} ({}) does not export {field:?}; {list}",
                                decl.id, decl.name
                            ),
                        ));
                        continue;
                    }
                }
                refs.push(Reference {
                    target,
                    span: t.span,
                });
            }
            None => {
                let root = t.parts.first().map(String::as_str).unwrap_or("");
                let path = t.parts.join(".");
                if solder_syntax::stdlib::lookup(root).is_none() {
                    diags.push(Diagnostic::error(
                        t.span,
                        format!("component {path:?} does not exist or is out of scope"),
                    ));
                } else if EXPERIMENTAL_STDLIB.contains(&path.as_str())
                    && Stability::Experimental < min_stability
                {
                    diags.push(Diagnostic::error(
                        t.span,
                        stability_error(&path, Stability::Experimental, min_stability),
                    ));
                }
            }
        }
    }
    (refs, diags)
}

/// Strongly connected components with more than one node (Tarjan), each listed in source
/// order, the cycles themselves ordered by their first node.
fn find_cycles(deps: &[Vec<usize>]) -> Vec<Vec<usize>> {
    struct Tarjan<'a> {
        deps: &'a [Vec<usize>],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        out: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        // Recursion depth is bounded by the number of components in a config (hundreds).
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.next);
            self.low[v] = self.next;
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for &w in &self.deps[v] {
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut scc = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    scc.sort_unstable();
                    self.out.push(scc);
                }
            }
        }
    }
    let n = deps.len();
    let mut t = Tarjan {
        deps,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in 0..n {
        if t.index[v].is_none() {
            t.visit(v);
        }
    }
    t.out.sort();
    t.out
}

/// Kahn's algorithm; among ready nodes the earliest in source order goes first, so the order
/// is deterministic. Callers have rejected cycles already.
fn topological_order(deps: &[Vec<usize>]) -> Vec<usize> {
    let n = deps.len();
    let mut missing: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependants = vec![Vec::new(); n];
    for (i, d) in deps.iter().enumerate() {
        for &t in d {
            dependants[t].push(i);
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| missing[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependants[i] {
            missing[d] -= 1;
            if missing[d] == 0 {
                ready.insert(d);
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topological_order_respects_dependencies_and_source_order() {
        // 0 depends on 2, 1 has none, 2 depends on 1.
        let deps = vec![vec![2], vec![], vec![1]];
        assert_eq!(topological_order(&deps), vec![1, 2, 0]);
    }

    #[test]
    fn finds_each_cycle_once() {
        let deps = vec![vec![1], vec![2], vec![0], vec![4], vec![3], vec![]];
        assert_eq!(find_cycles(&deps), vec![vec![0, 1, 2], vec![3, 4]]);
        assert!(find_cycles(&[vec![1], vec![]]).is_empty());
    }

    #[test]
    fn stability_message_matches_alloy() {
        assert_eq!(
            stability_error(
                "component \"x.y\"",
                Stability::Experimental,
                Stability::GenerallyAvailable
            ),
            "component \"x.y\" is at stability level \"experimental\", which is below the minimum allowed stability level \"generally-available\". Use --stability.level command-line flag to enable \"experimental\" features"
        );
    }
}
