//! The ariadne report the REPL prints for a failed expansion points at the span at fault.

use rexim::{diag, expand, parse, Context};

#[test]
fn error_reports() {
    insta::glob!("diag/inputs/*.txt", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let mut out = String::new();
        for line in text.lines() {
            let err =
                expand(&parse(line), &mut Context::default()).expect_err("fixture lines must fail");
            out.push_str(&diag::render_expand_error(line, &err, false));
            out.push('\n');
        }
        insta::with_settings!({ snapshot_path => "diag/snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(out);
        });
    });
}
