//! The tf binary: composition root, config and commands.
fn main() {}
