pub mod relabel;
