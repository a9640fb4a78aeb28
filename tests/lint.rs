//! Lint fixtures: `tests/lint/inputs/*.conf` -> rendered diagnostics (colour off) and JSON,
//! as insta snapshots.

use std::path::Path;

#[test]
fn lint_fixtures() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lint");
    insta::glob!("lint/inputs/*.conf", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let macros = rexim::config::initial_macros(&[]).unwrap();
        let cfg = rexim::config::load_text(&path.to_string_lossy(), text.clone(), macros);
        let diags = rexim::lint::run(&cfg);
        let mut out = rexim::diag::render(&diags, &cfg.files, false);
        out.push_str("--- json\n");
        out.push_str(&rexim::diag::to_json(&diags, &cfg.files));
        let out = out.replace(&base.to_string_lossy().into_owned(), "@DIR@");
        insta::with_settings!({ description => text, omit_expression => true, snapshot_path => "lint/snapshots", prepend_module_to_snapshot => false }, {
            insta::assert_snapshot!(out);
        });
    });
}
