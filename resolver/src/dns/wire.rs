//! The DNS front's fast path (issue 10): the common request — a standard
//! query with one question of plain labels and at most an EDNS(0) OPT
//! record — read straight from the wire, and its answer (NAPTR, NXDOMAIN or
//! NODATA with the SOA, REFUSED) written straight into the output buffer,
//! with no hickory `Message`, no `Name` and no per-query heap allocation in
//! the wire handling. Anything else (apex names, unusual flags, options,
//! label bytes, over-long data) returns `None` and takes the hickory path in
//! `mod.rs`, which stays the reference: the tests in `tests_wire.rs`
//! compare both paths byte for byte, including hickory's name compression,
//! which [`Compressor`] reproduces (same candidates, same first-match order,
//! case-sensitive byte comparison).

/// A request the fast path can answer.
pub(super) struct Question<'a> {
    pub id: u16,
    pub rd: bool,
    pub cd: bool,
    /// QNAME in wire form, terminating zero byte included.
    pub qname: &'a [u8],
    /// QNAME + QTYPE + QCLASS exactly as received (echoed in the answer).
    pub section: &'a [u8],
    pub qtype: u16,
    pub qclass: u16,
    /// The client's EDNS(0) buffer size when it sent an OPT record.
    pub edns: Option<u16>,
}

pub(super) const TYPE_NAPTR: u16 = 35;
pub(super) const TYPE_ANY: u16 = 255;
const TYPE_OPT: u16 = 41;
const TYPE_SOA: u16 = 6;
pub(super) const CLASS_IN: u16 = 1;
pub(super) const CLASS_ANY: u16 = 255;

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]))
}

/// A label byte hickory prints as itself (`Label::write_ascii`): the
/// fast path hands the grammar the same text as `Name::to_ascii` would.
fn plain(b: u8, first: bool) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || (b == b'-' && !first)
}

/// Reads a request the fast path can answer, or `None`.
pub(super) fn parse(req: &[u8]) -> Option<Question<'_>> {
    if req.len() < 12 || req[2] & 0xf8 != 0 {
        // Too short, a response, or an opcode other than QUERY.
        return None;
    }
    let counts = [u16_at(req, 4)?, u16_at(req, 6)?, u16_at(req, 8)?, u16_at(req, 10)?];
    if counts[0] != 1 || counts[1] != 0 || counts[2] != 0 || counts[3] > 1 {
        return None;
    }
    let mut i = 12;
    loop {
        let l = usize::from(*req.get(i)?);
        if l == 0 {
            i += 1;
            break;
        }
        if l > 63 || i + 1 + l > req.len() {
            return None;
        }
        let label = &req[i + 1..i + 1 + l];
        if !label.iter().enumerate().all(|(k, b)| plain(*b, k == 0)) {
            return None;
        }
        i += 1 + l;
    }
    let qname = &req[12..i];
    if qname.len() > 255 {
        return None;
    }
    let qtype = u16_at(req, i)?;
    let qclass = u16_at(req, i + 2)?;
    let section = &req[12..i + 4];
    i += 4;
    let mut edns = None;
    if counts[3] == 1 {
        // OPT: root owner, type 41, class = payload, TTL = ext-rcode 0,
        // version 0, flags; options only of kinds hickory keeps opaque.
        if *req.get(i)? != 0 || u16_at(req, i + 1)? != TYPE_OPT || req.get(i + 5..i + 7)? != [0, 0] {
            return None;
        }
        edns = Some(u16_at(req, i + 3)?);
        let rdlen = usize::from(u16_at(req, i + 9)?);
        i += 11;
        let end = i + rdlen;
        while i < end {
            let code = u16_at(req, i)?;
            let len = usize::from(u16_at(req, i + 2)?);
            // NSID, COOKIE, PADDING.
            if !matches!(code, 3 | 10 | 12) || i + 4 + len > end {
                return None;
            }
            i += 4 + len;
        }
    }
    if i != req.len() {
        return None;
    }
    Some(Question {
        id: u16::from_be_bytes([req[0], req[1]]),
        rd: req[2] & 0x01 != 0,
        cd: req[3] & 0x10 != 0,
        qname,
        section,
        qtype,
        qclass,
        edns,
    })
}

/// `name` (wire form, terminator included) ends with `origin` (lower-case
/// wire form) at a label boundary, ASCII case ignored: the offset in `name`
/// where `origin` starts.
pub(super) fn suffix_at(name: &[u8], origin: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < name.len() {
        if name.len() - i == origin.len() {
            return name[i..].eq_ignore_ascii_case(origin).then_some(i);
        }
        if name.len() - i < origin.len() {
            return None;
        }
        let l = usize::from(name[i]);
        if l == 0 {
            return None;
        }
        i += 1 + l;
    }
    None
}

/// `name` (wire form) as `Name::to_ascii` prints a name of plain labels:
/// labels joined by dots, final dot. Returns the text's length in `buf`.
pub(super) fn to_text(name: &[u8], buf: &mut [u8; 256]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while let Some(&l) = name.get(i) {
        let l = usize::from(l);
        if l == 0 {
            break;
        }
        buf[n..n + l].copy_from_slice(&name[i + 1..i + 1 + l]);
        n += l;
        buf[n] = b'.';
        n += 1;
        i += 1 + l;
    }
    if n == 0 {
        buf[0] = b'.';
        n = 1;
    }
    n
}

/// Hickory's name compression, reproduced: every label suffix of a name
/// written is a candidate (its uncompressed bytes, at most 64 candidates,
/// none past offset 0x3FFF); a later name's first suffix equal byte for
/// byte to a candidate becomes a pointer to it. Candidates borrow the
/// names written (the request's question, the zone's SOA names) instead of
/// copying them.
///
/// The question is written by [`Compressor::question`] and becomes
/// candidates only when a later name is written: an answer from the answer
/// cache writes no other name (its records point at offset 12 already),
/// so a hit skips the question's twenty-odd candidates.
pub(super) struct Compressor<'a> {
    /// Uncompressed names written (without the terminator). A message of
    /// the fast path writes at most 4 names that add candidates (question,
    /// SOA owner, MNAME, RNAME; NAPTR owners are pointers at once).
    names: [&'a [u8]; 8],
    n_names: usize,
    /// (offset in the message, index in `names`, start in that name,
    /// length of the suffix).
    cands: [(u16, u8, u8, u8); 64],
    n: usize,
    /// The question (its offset and its labels) while its candidates are
    /// not yet taken.
    pending: Option<(usize, &'a [u8])>,
    /// Where the message starts in the output buffer (offsets in the
    /// message are counted from here).
    start: usize,
}

impl<'a> Compressor<'a> {
    /// A compressor for a message written from `start` on in the output
    /// buffer.
    pub fn at(start: usize) -> Self {
        Compressor { names: [&[]; 8], n_names: 0, cands: [(0, 0, 0, 0); 64], n: 0, pending: None, start }
    }

    fn matches(&self, c: &(u16, u8, u8, u8), suffix: &[u8]) -> bool {
        usize::from(c.3) == suffix.len() && self.names[usize::from(c.1)].get(usize::from(c.2)..) == Some(suffix)
    }

    /// Writes the question's `name` (wire form, terminator included), the
    /// message's first name, at the end of `out`: uncompressed, as
    /// [`Compressor::name`] would (there is nothing earlier to point to).
    pub fn question(&mut self, out: &mut Vec<u8>, name: &'a [u8]) {
        debug_assert!(self.n == 0 && self.pending.is_none(), "the question is the first name");
        let base = out.len();
        out.extend_from_slice(name);
        self.pending = Some((base, &name[..name.len() - 1]));
    }

    /// Writes `name` (wire form, terminator included, at most 255 bytes)
    /// at the end of `out`.
    pub fn name(&mut self, out: &mut Vec<u8>, name: &'a [u8], compress: bool) {
        if let Some((base, labels)) = self.pending.take() {
            self.scan(out, base, labels, false);
        }
        let labels = &name[..name.len() - 1];
        let base = out.len();
        out.extend_from_slice(labels);
        if !self.scan(out, base, labels, compress) {
            out.push(0);
        }
    }

    /// Walks the suffixes of `labels`, written at `base` in `out`. When
    /// `compress`, the first one equal to an earlier name's candidate is
    /// replaced by a pointer to it (`true`: `out` then ends with the
    /// pointer); each suffix before it becomes a candidate.
    fn scan(&mut self, out: &mut Vec<u8>, base: usize, labels: &'a [u8], compress: bool) -> bool {
        let last = base - self.start + labels.len();
        let slot = self.n_names;
        // A name's own suffixes are longer than its later ones: only the
        // candidates of earlier names can match (as in hickory's search).
        let earlier = self.n;
        let mut i = 0;
        while i < labels.len() {
            let suffix = &labels[i..];
            if compress
                && let Some(&(at, ..)) = self.cands[..earlier].iter().find(|c| self.matches(c, suffix))
                && at & 0xC000 == 0
            {
                out.truncate(base + i);
                out.extend_from_slice(&(0xC000 | at).to_be_bytes());
                return true;
            }
            if last < 0x3FFF && self.n < self.cands.len() && slot < self.names.len() {
                if self.n_names == slot {
                    self.names[slot] = labels;
                    self.n_names += 1;
                }
                self.cands[self.n] = ((base - self.start + i) as u16, slot as u8, i as u8, suffix.len() as u8);
                self.n += 1;
            }
            i += 1 + usize::from(labels[i]);
        }
        false
    }
}

/// Appends one record's fixed fields; returns where RDLENGTH goes.
pub(super) fn record_head(out: &mut Vec<u8>, rtype: u16, ttl: u32) -> usize {
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.len() - 2
}

/// Fills in the RDLENGTH written by [`record_head`].
pub(super) fn record_end(out: &mut [u8], at: usize) {
    let len = u16::try_from(out.len() - at - 2).unwrap_or(u16::MAX);
    out[at..at + 2].copy_from_slice(&len.to_be_bytes());
}

/// The zone's SOA record, precomputed: owner, TTL and RDATA fields.
pub(super) struct SoaWire {
    pub origin: Vec<u8>,
    pub mname: Vec<u8>,
    pub rname: Vec<u8>,
    pub ttl: u32,
    /// SERIAL, REFRESH, RETRY, EXPIRE, MINIMUM.
    pub tail: [u8; 20],
}

impl SoaWire {
    pub fn write<'a>(&'a self, out: &mut Vec<u8>, comp: &mut Compressor<'a>) {
        comp.name(out, &self.origin, true);
        let at = record_head(out, TYPE_SOA, self.ttl);
        comp.name(out, &self.mname, true);
        comp.name(out, &self.rname, true);
        out.extend_from_slice(&self.tail);
        record_end(out, at);
    }
}

/// A name in lower-case wire form (terminator included).
pub(super) fn wire_name(n: &hickory_proto::rr::Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(n.len() + 1);
    for label in n.iter() {
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}
