//! Runs the fuzz entry function (`wire::fuzzing::decode_message`, the body
//! of `fuzz/fuzz_targets/decode_message.rs`) on stable: the committed seed
//! corpus, then a few thousand deterministic mutations of it. A short
//! stand-in for `cargo +nightly fuzz run decode_message`.

mod common;

use idnode_resolver::wire::{Message, fuzzing};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const INTERESTING_U32: [u32; 8] = [0, 1, 4, 0x7f, 0xff, 0x1_0000, 0x7fff_ffff, 0xffff_ffff];

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut d = seed.to_vec();
    for _ in 0..=rng.below(3) {
        let len = d.len();
        match rng.below(7) {
            0 if len > 0 => {
                let i = rng.below(len);
                d[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                d[i] = [0, 0xff, 0x7f, 0x80, rng.next() as u8][rng.below(5)];
            }
            2 => d.truncate(rng.below(len + 1)),
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                d.splice(at..at, ins);
            }
            4 if len >= 4 => {
                let at = rng.below(len - 3);
                let v = INTERESTING_U32[rng.below(INTERESTING_U32.len())];
                d[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            5 if !other.is_empty() => {
                let at = rng.below(len + 1);
                let from = rng.below(other.len());
                let n = rng.below(other.len() - from + 1);
                d.truncate(at);
                d.extend_from_slice(&other[from..from + n]);
            }
            _ if len > 8 => {
                let a = rng.below(len);
                let b = a + rng.below(len - a).min(16);
                let chunk = d[a..b].to_vec();
                let at = rng.below(len);
                d.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    // Half of the time keep the framing consistent so the body decoders,
    // not just the length checks, see the mutation.
    if rng.below(2) == 0 && d.len() >= 44 {
        let msg = (d.len() - 20) as u32;
        d[16..20].copy_from_slice(&msg.to_be_bytes());
        if rng.below(2) == 0 {
            let body = (d.len() - 44).saturating_sub(4 * rng.below(2)) as u32;
            d[40..44].copy_from_slice(&body.to_be_bytes());
        }
    }
    d
}

#[test]
fn seed_corpus_and_mutations() {
    let corpus = common::seed_corpus();
    assert!(corpus.len() >= 40, "seed corpus has {} files", corpus.len());
    let mut messages = 0;
    for seed in &corpus {
        fuzzing::decode_message(seed);
        messages += usize::from(Message::decode(seed).is_ok());
    }
    assert!(messages >= 40, "only {messages} seeds decode as messages");

    let mut rng = Rng(0x1d0d_e5ee_d5ee_d001);
    let mut decoded = 0;
    let rounds = 5000;
    for _ in 0..rounds {
        let seed = &corpus[rng.below(corpus.len())];
        let other = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, seed, other);
        fuzzing::decode_message(&input);
        decoded += usize::from(Message::decode(&input).is_ok());
    }
    // The mutations reach past the framing checks often enough to matter.
    assert!(decoded > rounds / 20, "only {decoded} of {rounds} mutants decoded");
}

/// The seed corpus of `fuzz/fuzz_targets/tcp_udp_framing.rs` plus mutations,
/// through the TCP-framing and UDP-reassembly invariants on stable.
#[test]
fn framing_seed_corpus_and_mutations() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/tcp_udp_framing");
    let mut corpus: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    corpus.sort();
    assert!(corpus.len() >= 10, "seed corpus has {} files", corpus.len());
    // Whole messages of the codec corpus are streams too.
    corpus.extend(common::seed_corpus());
    for seed in &corpus {
        fuzzing::tcp_framing_and_udp_reassembly(seed);
    }
    let mut rng = Rng(0x7c9_f4a3_11d0_0b5e);
    for _ in 0..5000 {
        let seed = &corpus[rng.below(corpus.len())];
        let other = &corpus[rng.below(corpus.len())];
        fuzzing::tcp_framing_and_udp_reassembly(&mutate(&mut rng, seed, other));
    }
}

/// The files of `fuzz/corpus/<target>/`.
fn corpus_of(target: &str) -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// The authentication targets (`auth_keys`, `auth_answers`): every seed,
/// then deterministic mutations, on stable.
#[test]
fn auth_seed_corpora_and_mutations() {
    use idnode_resolver::auth::fuzzing::{auth_answers, auth_keys};
    for (target, run) in [("auth_keys", auth_keys as fn(&[u8])), ("auth_answers", auth_answers as fn(&[u8]))] {
        let corpus = corpus_of(target);
        assert!(corpus.len() >= 10, "{target}: {} seeds", corpus.len());
        for seed in &corpus {
            run(seed);
        }
        let mut rng = Rng(0xa075_5eed_0000_0001 ^ target.len() as u64);
        for _ in 0..2000 {
            let seed = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            run(&mutate(&mut rng, seed, other));
        }
    }
}
