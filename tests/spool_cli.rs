//! `rexim -bp`, `-Mvh`, `-Mvb` on a spool written by rexim, compared with Exim 4.96's output.

use std::process::Command;

use rexim::spool::{HeaderFile, HeaderLine, Recipient, Spool};

fn rexim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_rexim"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn queue_commands_match_exim() {
    let dir = std::env::temp_dir().join(format!("rexim-spool-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let spool = Spool::new(dir.join("spool"));
    let conf = dir.join("c.conf");
    std::fs::write(
        &conf,
        format!(
            "spool_directory = {}\nexim_user = {}\nexim_group = {}\nkeep_environment =\n\
             queue_list_requires_admin = false\nlog_file_path = {}/%slog\n",
            spool.dir.display(),
            spool.originator.0,
            spool.originator.2,
            dir.display()
        ),
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    // Three messages: recent, hours old (frozen, one recipient delivered), and with a big body.
    for (i, (age, body_len)) in [(30, 10usize), (5 * 3600, 100), (4 * 86400, 20_000)]
        .iter()
        .enumerate()
    {
        let mut h = HeaderFile {
            id: format!("1xVc0{i}-0000AB-0{i}"),
            login: spool.originator.0.clone(),
            uid: i64::from(spool.originator.1),
            gid: i64::from(spool.originator.2),
            sender: if i == 1 {
                Vec::new()
            } else {
                format!("s{i}@example.com").into_bytes()
            },
            received_time: now - age,
            ..HeaderFile::default()
        };
        h.recipients = (0..=i)
            .map(|r| Recipient {
                address: format!("r{r}@example.net").into_bytes(),
                pno: -1,
                ..Recipient::default()
            })
            .collect();
        if i == 1 {
            h.non_recipients.push(b"r0@example.net".to_vec());
            h.options.push(rexim::spool::header::OptionLine {
                name: "frozen".into(),
                value: Some(now.to_string().into_bytes()),
                tainted: false,
            });
        }
        h.headers.push(HeaderLine {
            kind: b'P',
            text: b"Received: x\n".to_vec(),
        });
        h.headers.push(HeaderLine {
            kind: b'*',
            text: b"X-Gone: y\n".to_vec(),
        });
        spool.write(&h, &vec![b'a'; *body_len]).unwrap();
    }
    let ours = rexim(&["-C", conf.to_str().unwrap(), "-bp"]);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let text = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert!(
        text.contains(" *** frozen ***\n        D r0@example.net\n          r1@example.net\n"),
        "{text}"
    );
    assert!(
        text.contains("  20K 1xVc02-0000AB-02 <s2@example.com>"),
        "{text}"
    );
    let vh = rexim(&["-C", conf.to_str().unwrap(), "-Mvh", "1xVc00-0000AB-00"]);
    assert_eq!(
        vh.stdout,
        std::fs::read(spool.file("1xVc00-0000AB-00", "H").unwrap()).unwrap()
    );
    let vb = rexim(&["-C", conf.to_str().unwrap(), "-Mvb", "1xVc00-0000AB-00"]);
    assert_eq!(vb.stdout, b"1xVc00-0000AB-00-D\naaaaaaaaaa");
    let bad = rexim(&["-C", conf.to_str().unwrap(), "-Mvb", "nonsense"]);
    assert_eq!(bad.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "exim: malformed message id nonsense after -Mvb option\n"
    );
    if Command::new("exim4").arg("--version").output().is_err() {
        eprintln!("SKIP comparison with exim4 -bp: exim4 is not installed");
    } else {
        let theirs = Command::new("exim4")
            .args(["-C", conf.to_str().unwrap(), "-bp"])
            .output()
            .unwrap();
        assert_eq!(text, String::from_utf8_lossy(&theirs.stdout));
        for id in ["1xVc01-0000AB-01", "1xVc09-0000AB-09"] {
            let a = rexim(&["-C", conf.to_str().unwrap(), "-bp", id]);
            let b = Command::new("exim4")
                .args(["-C", conf.to_str().unwrap(), "-bp", id])
                .output()
                .unwrap();
            assert_eq!(
                String::from_utf8_lossy(&a.stdout),
                String::from_utf8_lossy(&b.stdout)
            );
        }
        for flag in ["-Mvh", "-Mvb"] {
            let a = rexim(&["-C", conf.to_str().unwrap(), flag, "1xVc09-0000AB-09"]);
            let b = Command::new("exim4")
                .args(["-C", conf.to_str().unwrap(), flag, "1xVc09-0000AB-09"])
                .output()
                .unwrap();
            assert_eq!(
                (a.status.code(), a.stdout, a.stderr),
                (b.status.code(), b.stdout, b.stderr)
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn without_c_the_daemons_default_spool_is_listed() {
    let dir = std::env::temp_dir().join(format!("rexim-spool-cli-default-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_rexim"))
            .arg("-bp")
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    let empty = run();
    assert!(
        empty.status.success(),
        "{}",
        String::from_utf8_lossy(&empty.stderr)
    );
    assert!(empty.stdout.is_empty());
    let spool = Spool::new(dir.join("rexim-spool"));
    let h = HeaderFile {
        id: "1xVc00-0000AB-00".into(),
        login: "u".into(),
        sender: b"s@x".to_vec(),
        received_time: 0,
        recipients: vec![Recipient {
            address: b"r@y".to_vec(),
            pno: -1,
            ..Recipient::default()
        }],
        ..HeaderFile::default()
    };
    spool.write(&h, b"b\n").unwrap();
    let listed = String::from_utf8(run().stdout).unwrap();
    assert!(
        listed.ends_with("    3 1xVc00-0000AB-00 <s@x>\n          r@y\n\n"),
        "{listed}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
