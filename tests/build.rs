//! Generates the list of conformance tests from the domain files, so that a test
//! added to `src/conformance/<domain>.rs` (any `pub async fn <name>(ctx: Ctx)`, on one
//! line) runs
//! on every backend without being listed a second time. Tests whose name contains
//! `prefixed` run with the table prefix `st`.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new("src/conformance");
    println!("cargo::rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("src/conformance is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    files.sort();
    let (mut plain, mut prefixed) = (String::new(), String::new());
    for path in files {
        let module = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("UTF-8 file name")
            .to_owned();
        if module == "mod" || module == "fixtures" {
            continue;
        }
        println!("cargo::rerun-if-changed={}", path.display());
        let text = std::fs::read_to_string(&path).expect("readable test file");
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("pub async fn ") else {
                continue;
            };
            let Some((name, args)) = rest.split_once('(') else {
                continue;
            };
            // One parameter, the context: `ctx: Ctx`, `mut ctx: Ctx`, `_ctx: Ctx`.
            let Some((param, _)) = args.split_once(')') else {
                continue;
            };
            if !param.ends_with(": Ctx") || param.contains(',') {
                continue;
            }
            let list = if name.contains("prefixed") {
                &mut prefixed
            } else {
                &mut plain
            };
            writeln!(list, "            ({module}, {name}),").expect("write to String");
        }
    }
    let out = format!(
        "/// Implementation detail of [`conformance_suite!`](crate::conformance_suite): the\n\
         /// conformance tests found in `src/conformance/*.rs` by `build.rs`.\n\
         #[doc(hidden)]\n\
         #[macro_export]\n\
         macro_rules! __conformance_list {{\n    \
             ($name:ident, $backend:path) => {{\n        \
                 $crate::conformance_suite!(@tests $name, $backend, [\n{plain}        ], prefixed [\n{prefixed}        ]);\n    \
             }};\n\
         }}\n"
    );
    let dest =
        Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set")).join("conformance_list.rs");
    std::fs::write(dest, out).expect("OUT_DIR is writable");
}
