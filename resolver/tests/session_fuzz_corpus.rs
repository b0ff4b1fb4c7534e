//! Runs the session setup fuzz entry (`engine::fuzzing::session_setup`, the
//! body of `fuzz/fuzz_targets/session_setup.rs`) on stable: the committed
//! seed corpus, then deterministic mutations of it. A short stand-in for
//! `cargo +nightly fuzz run session_setup`.

use idnode_resolver::engine::fuzzing::session_setup;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/session_setup");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 3, "seed corpus present");
    seeds
}

#[test]
fn seeds_and_mutations_never_panic() {
    let seeds = corpus();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for s in &seeds {
        session_setup(s);
    }
    for _ in 0..400 {
        let mut d = seeds[(next() % seeds.len() as u64) as usize].clone();
        for _ in 0..=(next() % 3) {
            let len = d.len();
            match next() % 4 {
                0 if len > 0 => {
                    let i = (next() % len as u64) as usize;
                    d[i] ^= 1 << (next() % 8);
                }
                1 => d.truncate((next() % (len as u64 + 1)) as usize),
                2 if len > 0 => {
                    let i = (next() % len as u64) as usize;
                    d[i] = [0u8, 0xff, 0x7f, 0x80][(next() % 4) as usize];
                }
                _ => d.push(next() as u8),
            }
        }
        session_setup(&d);
    }
}
