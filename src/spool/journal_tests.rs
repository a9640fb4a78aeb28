//! The spool journal: records, the daemon's write path through it, rotation, and the
//! start-up replay after an unclean stop.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::journal::{Journal, Record, ROTATE_AFTER};
use super::tests::{deliver, TempDir, DIALOGUE};
use super::Spool;

fn record(id: &str, body: &str) -> Record {
    Record {
        dir: "input".into(),
        id: id.into(),
        data: format!("{id}-D\n{body}").into_bytes(),
        header: format!("{id}-H\nheader bytes\n").into_bytes(),
    }
}

fn segments(spool: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(spool.join("journal"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every record decoded from the segments in `spool/journal`.
fn journalled(spool: &Path) -> Vec<Record> {
    let mut out = Vec::new();
    for name in segments(spool) {
        let bytes = fs::read(spool.join("journal").join(name)).unwrap();
        let mut at = 0;
        while let Some((r, len)) = Record::decode(&bytes[at..]) {
            out.push(r);
            at += len;
        }
        assert_eq!(at, bytes.len(), "a segment holds whole records only");
    }
    out
}

#[test]
fn records_round_trip_and_damage_is_refused() {
    let (a, b) = (
        record("1xYYiM-0004he-A5", "one\n"),
        record("1xYYiM-0004he-AG", ""),
    );
    let mut buf = Vec::new();
    a.encode(&mut buf);
    let first = buf.len();
    b.encode(&mut buf);
    assert_eq!(Record::decode(&buf), Some((a.clone(), first)));
    assert_eq!(Record::decode(&buf[first..]), Some((b, buf.len() - first)));
    // A torn tail, a flipped byte, a wrong magic.
    assert_eq!(Record::decode(&buf[..first - 1]), None);
    let mut flipped = buf.clone();
    flipped[20] ^= 1;
    assert_eq!(Record::decode(&flipped), None);
    assert_eq!(Record::decode(b"RXJ0\x04\0\0\0\0\0\0\0"), None);
    // A directory that would leave the spool, or a bad id, is refused even when intact.
    for bad in [
        Record {
            dir: "../etc".into(),
            ..a.clone()
        },
        Record {
            dir: "input/../..".into(),
            ..a.clone()
        },
        Record {
            id: "../../x".into(),
            ..a.clone()
        },
    ] {
        let mut buf = Vec::new();
        bad.encode(&mut buf);
        assert_eq!(Record::decode(&buf), None, "{:?}", bad.dir);
    }
}

/// With a journal, messages are whole in the spool at once, the journal holds exactly
/// their files' bytes, and a clean shutdown leaves no segment behind.
#[test]
fn journalled_messages_are_whole_and_a_clean_stop_empties_the_journal() {
    let dir = TempDir::new("journal-write");
    let mut spool = Spool::new(&dir.0);
    let (journal, recovery) = spool.open_journal().unwrap();
    assert_eq!(recovery, Default::default());
    let spool = Arc::new(spool);
    for _ in 0..3 {
        let out = deliver(&spool, None, DIALOGUE);
        assert!(out.contains("250 OK id="), "{out}");
    }
    let ids = spool.message_ids().unwrap();
    assert_eq!(ids.len(), 3);
    let records = journalled(&dir.0);
    assert_eq!(records.len(), 3);
    for r in &records {
        assert!(ids.contains(&r.id));
        let input = dir.0.join("input");
        assert_eq!(fs::read(input.join(format!("{}-D", r.id))).unwrap(), r.data);
        assert_eq!(
            fs::read(input.join(format!("{}-H", r.id))).unwrap(),
            r.header
        );
        assert_eq!(spool.read_header(&r.id).unwrap().id, r.id);
    }
    journal.shutdown();
    assert!(segments(&dir.0).is_empty(), "{:?}", segments(&dir.0));
    assert_eq!(spool.message_ids().unwrap().len(), 3);
}

/// A quiet daemon does not keep messages in the journal: the open segment is closed
/// once due, synced and deleted.
#[test]
fn a_due_segment_is_retired_without_new_messages() {
    let dir = TempDir::new("journal-rotate");
    let mut spool = Spool::new(&dir.0);
    let (journal, _) = spool.open_journal().unwrap();
    let spool = Arc::new(spool);
    deliver(&spool, None, DIALOGUE);
    assert_eq!(segments(&dir.0).len(), 1);
    let deadline = Instant::now() + ROTATE_AFTER * 10;
    while !segments(&dir.0).is_empty() {
        assert!(Instant::now() < deadline, "segment still there");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(spool.message_ids().unwrap().len(), 1);
    journal.shutdown();
}

/// After an unclean stop the next start writes again whatever the journal has and the
/// spool lacks: a missing `-H`, a damaged `-D`, a message with no files at all; intact
/// messages are left as they are, a torn last record is ignored, the segment goes.
#[test]
fn replay_restores_missing_and_damaged_files() {
    let source = TempDir::new("journal-source");
    let plain = Arc::new(Spool::new(&source.0));
    for _ in 0..4 {
        deliver(&plain, None, DIALOGUE);
    }
    let mut ids = plain.message_ids().unwrap();
    ids.sort();
    let input = source.0.join("input");
    let read = |id: &str, s: &str| fs::read(input.join(format!("{id}-{s}"))).unwrap();
    let records: Vec<Record> = ids
        .iter()
        .map(|id| Record {
            dir: "input".into(),
            id: id.clone(),
            data: read(id, "D"),
            header: read(id, "H"),
        })
        .collect();

    let dir = TempDir::new("journal-replay");
    let spool_input = dir.0.join("input");
    fs::create_dir_all(&spool_input).unwrap();
    fs::create_dir_all(dir.0.join("journal")).unwrap();
    let put = |id: &str, s: &str, bytes: &[u8]| {
        fs::write(spool_input.join(format!("{id}-{s}")), bytes).unwrap()
    };
    // 0: intact. 1: -H missing. 2: -D truncated. 3: nothing.
    put(&ids[0], "D", &records[0].data);
    put(&ids[0], "H", &records[0].header);
    put(&ids[1], "D", &records[1].data);
    put(&ids[2], "D", &records[2].data[..10]);
    put(&ids[2], "H", &records[2].header);
    let mut seg = Vec::new();
    for r in &records {
        r.encode(&mut seg);
    }
    let mut torn = Vec::new();
    record("1xYYiM-0004he-ZZ", "torn\n").encode(&mut torn);
    seg.extend_from_slice(&torn[..torn.len() / 2]);
    fs::write(dir.0.join("journal/1-00000001.rxj"), &seg).unwrap();
    let before = fs::metadata(spool_input.join(format!("{}-H", ids[0]))).unwrap();

    let mut spool = Spool::new(&dir.0);
    let (journal, recovery) = spool.open_journal().unwrap();
    assert_eq!(recovery.records, 4);
    assert_eq!(recovery.restored, ids[1..].to_vec());
    assert_eq!(recovery.busy_segments, 0);
    for r in &records {
        assert_eq!(
            fs::read(spool_input.join(format!("{}-D", r.id))).unwrap(),
            r.data
        );
        assert_eq!(
            fs::read(spool_input.join(format!("{}-H", r.id))).unwrap(),
            r.header
        );
    }
    let after = fs::metadata(spool_input.join(format!("{}-H", ids[0]))).unwrap();
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());
    let mut listed = spool.message_ids().unwrap();
    listed.sort();
    assert_eq!(listed, ids, "no temporary file and no torn message left");
    assert!(segments(&dir.0).is_empty());
    journal.shutdown();
}

/// A segment another running daemon holds (its lock) is not replayed or deleted.
#[test]
fn a_segment_in_use_by_another_process_is_left_alone() {
    let dir = TempDir::new("journal-busy");
    fs::create_dir_all(dir.0.join("journal")).unwrap();
    let path = dir.0.join("journal/999-00000001.rxj");
    let mut seg = Vec::new();
    record("1xYYiM-0004he-A5", "x\n").encode(&mut seg);
    fs::write(&path, &seg).unwrap();
    let held = fs::File::open(&path).unwrap();
    // SAFETY: flock on a descriptor the test owns.
    assert_eq!(
        unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let (journal, recovery) = Journal::open(&dir.0).unwrap();
    assert_eq!(recovery.busy_segments, 1);
    assert_eq!(recovery.records, 0);
    assert!(path.exists());
    assert!(!dir.0.join("input/1xYYiM-0004he-A5-D").exists());
    journal.shutdown();
    assert!(
        path.exists(),
        "shutdown deletes only this process's segments"
    );
}

/// A segment is not closed (and so not deleted) while the files it protects are being
/// linked, even when it falls due meanwhile: its deletion would leave their names
/// without a sync behind them.
#[test]
fn a_segment_stays_while_its_messages_are_linked() {
    let dir = TempDir::new("journal-linking");
    let (journal, _) = Journal::open(&dir.0).unwrap();
    let r = record("1xYYiM-0004he-A5", "x\n");
    journal
        .append_then(&[&r], || {
            // Long enough for the retiring thread to find the segment due twice over.
            std::thread::sleep(ROTATE_AFTER * 3);
            assert_eq!(
                segments(&dir.0).len(),
                1,
                "the segment went under the links"
            );
        })
        .unwrap();
    journal.shutdown();
    assert!(segments(&dir.0).is_empty());
}

/// With `split_spool_directory` a record names the message's subdirectory, and replay
/// writes the files back there.
#[test]
fn split_spool_records_name_the_subdirectory() {
    let dir = TempDir::new("journal-split");
    let mut spool = Spool::new(&dir.0);
    spool.split = true;
    let (journal, _) = spool.open_journal().unwrap();
    let spool = Arc::new(spool);
    deliver(&spool, None, DIALOGUE);
    let records = journalled(&dir.0);
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r.dir, format!("input/{}", &r.id[5..6]));
    let sub = dir.0.join(&r.dir);
    assert_eq!(fs::read(sub.join(format!("{}-D", r.id))).unwrap(), r.data);
    // Lose both files, as a crash before their names reached the disk could.
    fs::remove_file(sub.join(format!("{}-D", r.id))).unwrap();
    fs::remove_file(sub.join(format!("{}-H", r.id))).unwrap();
    journal.shutdown();
    let mut seg = Vec::new();
    r.encode(&mut seg);
    let other = TempDir::new("journal-split-replay");
    fs::create_dir_all(other.0.join("journal")).unwrap();
    fs::write(other.0.join("journal/1-00000001.rxj"), seg).unwrap();
    let (journal, recovery) = Journal::open(&other.0).unwrap();
    assert_eq!(recovery.restored, vec![r.id.clone()]);
    let sub = other.0.join(&r.dir);
    assert_eq!(fs::read(sub.join(format!("{}-D", r.id))).unwrap(), r.data);
    assert_eq!(fs::read(sub.join(format!("{}-H", r.id))).unwrap(), r.header);
    journal.shutdown();
}

/// Damaged segments (random bytes, or a valid record with bytes flipped, cut or lengths
/// changed) never panic the decoder and never yield a record unlike the one written.
#[test]
fn damaged_segments_never_panic_or_mislead() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let good = record("1xYYiM-0004he-A5", "body line\n");
    let mut valid = Vec::new();
    good.encode(&mut valid);
    for _ in 0..2000 {
        let mut b = if rng.gen_bool(0.5) {
            (0..rng.gen_range(0..200))
                .map(|_| rng.gen())
                .collect::<Vec<u8>>()
        } else {
            valid.clone()
        };
        for _ in 0..rng.gen_range(0..4) {
            if b.is_empty() {
                break;
            }
            let at = rng.gen_range(0..b.len());
            match rng.gen_range(0..3) {
                0 => b[at] = rng.gen(),
                1 => b.truncate(at),
                _ => b.insert(at, rng.gen()),
            }
        }
        if let Some((r, len)) = Record::decode(&b) {
            assert!(len <= b.len());
            assert_eq!(r, good, "a damaged record decoded as something else");
        }
    }
}

/// A new segment never takes the name of one already there (an earlier process with the
/// same pid whose segment could not be replayed): that one is left whole.
#[test]
fn a_new_segment_never_overwrites_an_old_one() {
    let dir = TempDir::new("journal-names");
    let (journal, _) = Journal::open(&dir.0).unwrap();
    let taken = dir
        .0
        .join(format!("journal/{}-00000001.rxj", std::process::id()));
    fs::write(&taken, b"left by an earlier process").unwrap();
    journal
        .append_then(&[&record("1xYYiM-0004he-A5", "x\n")], || {})
        .unwrap();
    assert_eq!(fs::read(&taken).unwrap(), b"left by an earlier process");
    assert_eq!(segments(&dir.0).len(), 2);
    journal.shutdown();
}
