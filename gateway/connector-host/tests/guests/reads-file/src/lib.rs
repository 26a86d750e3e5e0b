//! Exports one function that reads a file, so the component imports
//! `wasi:filesystem/*`. The connector host must refuse to load it.

#[unsafe(no_mangle)]
pub extern "C" fn read_secret() -> usize {
    std::fs::read("/etc/passwd").map_or(0, |b| b.len())
}
