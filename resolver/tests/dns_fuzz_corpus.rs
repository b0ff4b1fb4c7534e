//! Runs the DNS fuzz entry (`dns::fuzzing::request`, the body of
//! `fuzz/fuzz_targets/dns_request.rs`) on stable: the committed seed
//! corpus, then deterministic mutations of it (bounded count). A short
//! stand-in for `cargo +nightly fuzz run dns_request`.

use idnode_resolver::dns::fuzzing;

#[test]
fn dns_corpus_and_mutations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/dns_request");
    let mut seeds: Vec<Vec<u8>> =
        std::fs::read_dir(&dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()).collect();
    seeds.sort();
    assert!(seeds.len() >= 5, "seed corpus missing in {}", dir.display());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    for s in &seeds {
        fuzzing::request(s);
    }
    for i in 0..3000 {
        let mut d = seeds[i % seeds.len()].clone();
        for _ in 0..=(next() % 3) {
            let len = d.len();
            match next() % 4 {
                0 if len > 0 => d[(next() % len as u64) as usize] ^= 1 << (next() % 8),
                1 if len > 0 => d[(next() % len as u64) as usize] = next() as u8,
                2 => d.truncate((next() % (len as u64 + 1)) as usize),
                _ => d.push(next() as u8),
            }
        }
        fuzzing::request(&d);
    }
}
