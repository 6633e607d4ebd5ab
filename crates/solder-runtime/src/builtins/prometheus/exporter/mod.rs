pub mod self_;
