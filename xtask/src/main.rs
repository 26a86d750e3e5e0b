//! Project tasks: build everything, serve, test.
fn main() {}
