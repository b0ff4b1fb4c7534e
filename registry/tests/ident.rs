//! Identifier canonicalisation and limits (idis-node.md §2.2,
//! handle-protocol.md §7, §9.1).

use idnode_registry::ident::{
    CasePolicy, IdentError, Identifier, LengthLimit, MAX_HANDLE_BYTES, MAX_HTTP_HANDLE_CHARS, canonical_key_into,
    check_snms_prefix, prefix_chain, prefix_handle,
};

fn key(s: &str, p: CasePolicy) -> String {
    let mut out = Vec::new();
    canonical_key_into(s.as_bytes(), p, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn prefix_folded_suffix_kept_or_folded() {
    use CasePolicy::*;
    assert_eq!(key("88.118.8.abc/Lot-a", CaseSensitive), "88.118.8.ABC/Lot-a");
    assert_eq!(key("88.118.8.abc/Lot-a", CaseInsensitive), "88.118.8.ABC/LOT-A");
    assert_eq!(key("88.118.8.ABC/Lot-a", CaseSensitive), key("88.118.8.abc/Lot-a", CaseSensitive));
    assert_ne!(key("88.1/lot", CaseSensitive), key("88.1/LOT", CaseSensitive));
    assert_eq!(key("88.1/lot", CaseInsensitive), key("88.1/LOT", CaseInsensitive));
    // ASCII only: no Unicode case folding or normalisation.
    assert_eq!(key("88.1/straße-ÄÖ", CaseInsensitive), "88.1/STRAßE-ÄÖ");
    // Suffix slashes and colons belong to the suffix.
    assert_eq!(key("88.1/a/b:c", CaseSensitive), "88.1/a/b:c");
}

#[test]
fn global_namespace_forms() {
    use CasePolicy::*;
    assert_eq!(key("0.NA/88.118.8", CaseSensitive), "0.NA/88.118.8");
    assert_eq!(key("0.na/88.118.8.abc", CaseSensitive), "0.NA/88.118.8.ABC");
    assert_eq!(key("0.Na/cnri.test", CaseSensitive), "0.NA/CNRI.TEST");
    // A bare prefix is the prefix handle.
    assert_eq!(key("88.118.8", CaseSensitive), "0.NA/88.118.8");
    assert_eq!(key("cnri.test", CaseSensitive), "0.NA/CNRI.TEST");
    assert_eq!(prefix_handle("88.118.8.abc"), "0.NA/88.118.8.ABC");
    let id = Identifier::parse("88.118.8").unwrap();
    assert!(id.is_bare_prefix());
    let ph = id.to_prefix_handle();
    assert_eq!(ph.as_str(), "0.NA/88.118.8");
    assert_eq!((ph.prefix(), ph.suffix()), ("0.NA", Some("88.118.8")));
    assert!(ph.is_global_na());
}

#[test]
fn echo_as_asked() {
    let asked = "88.118.8.AbC/LoT-1";
    let id: Identifier = asked.parse().unwrap();
    assert_eq!(id.as_str(), asked);
    assert_eq!(id.to_string(), asked);
    assert_eq!(id.canonical_key(CasePolicy::CaseInsensitive), b"88.118.8.ABC/LOT-1");
    assert_eq!(id.as_str(), asked, "canonicalising does not change the echo");
    assert_eq!(id.canonical_prefix(), "88.118.8.ABC");
}

#[test]
fn limits() {
    let ok = format!("88.1/{}", "a".repeat(MAX_HANDLE_BYTES - 5));
    assert_eq!(ok.len(), 2048);
    assert!(Identifier::parse(&ok).is_ok());
    let long = format!("{ok}a");
    assert_eq!(
        Identifier::parse(&long),
        Err(IdentError::TooLong { limit: LengthLimit::HandleBytes, len: 2049, max: 2048 })
    );
    assert_eq!(
        Identifier::from_bytes(long.as_bytes()),
        Err(IdentError::TooLong { limit: LengthLimit::HandleBytes, len: 2049, max: 2048 })
    );
    // HTTP: 255 characters (not bytes).
    let h255 = format!("88.1/{}", "中".repeat(MAX_HTTP_HANDLE_CHARS - 5));
    assert!(Identifier::parse_http(&h255).is_ok());
    let h256 = format!("{h255}x");
    assert_eq!(
        Identifier::parse_http(&h256),
        Err(IdentError::TooLong { limit: LengthLimit::HttpChars, len: 256, max: 255 })
    );
    assert!(Identifier::parse(&h256).is_ok(), "the binary protocol allows it");
    // SNMS prefix: 64 characters.
    assert!(check_snms_prefix(&"8".repeat(64)).is_ok());
    assert_eq!(
        check_snms_prefix(&"8".repeat(65)),
        Err(IdentError::TooLong { limit: LengthLimit::PrefixChars, len: 65, max: 64 })
    );
}

#[test]
fn invalid_input_variants() {
    assert_eq!(Identifier::from_bytes(b"88.1/ab\xc3"), Err(IdentError::InvalidUtf8 { offset: 7 }));
    assert_eq!(Identifier::from_bytes(b"\xff88.1/ab"), Err(IdentError::InvalidUtf8 { offset: 0 }));
    assert_eq!(Identifier::from_bytes(b""), Err(IdentError::Empty));
    assert_eq!(Identifier::parse("/abc"), Err(IdentError::EmptyPrefix));
    assert_eq!(Identifier::parse("88.1/"), Err(IdentError::EmptySuffix));
    assert_eq!(Identifier::parse("88.1/a\tb"), Err(IdentError::ControlChar { offset: 6, code: 9 }));
    assert_eq!(Identifier::parse("88.1/a\u{7f}"), Err(IdentError::ControlChar { offset: 6, code: 0x7f }));
    assert_eq!(Identifier::parse("88.1/é\u{85}"), Err(IdentError::ControlChar { offset: 7, code: 0x85 }));
    // The messages name the problem.
    let e = Identifier::from_bytes(b"88.1/ab\xc3").unwrap_err().to_string();
    assert!(e.contains("UTF-8") && e.contains('7'), "{e}");
}

#[test]
fn parent_chain() {
    let v: Vec<_> = prefix_chain("88.118.8.1001").collect();
    assert_eq!(v, ["88.118.8.1001", "88.118.8", "88.118", "88"]);
}
