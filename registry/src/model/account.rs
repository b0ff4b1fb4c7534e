//! Enterprises (real-name filing, snms-api.md §6) and identities (accounts
//! that log in to the HTTP APIs). Pure data; password hashing and token
//! generation are the caller's job (this crate stores the PHC string and
//! token hashes it is given).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::stored::Stored;

/// Filing status of an enterprise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EnterpriseStatus {
    /// Filed, waiting for the top node's business system.
    Pending,
    Approved,
    Rejected,
    /// Suspended by the platform.
    Disabled,
}

/// Contact person of an enterprise.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Contact {
    pub name: String,
    pub email: String,
    pub phone: String,
}

/// An enterprise (a reasonable subset of the SNMS `entBasicInfo` fields;
/// everything else goes into `extra`, keyed by the SNMS field name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Enterprise {
    pub id: u64,
    /// `orgName`.
    pub name: String,
    /// `orgCrtCode` (unified social credit code when `orgCrtType` = 1).
    pub credit_code: String,
    /// `orgNature` 1..=5, 0 when unknown.
    pub nature: u8,
    /// `orgAddr`.
    pub address: String,
    /// `orgAddrProvince`/`orgAddrCity`/`orgAddrCounty` region codes.
    pub region: Vec<String>,
    pub website: String,
    /// `industryCategory` (+ `industrySpecific` when known, e.g. `C34`).
    pub industry: String,
    pub description: String,
    pub contact: Contact,
    pub status: EnterpriseStatus,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds.
    pub updated: u64,
    /// Every other filing field (`legalName`, `regCapital`, ...), as text.
    pub extra: BTreeMap<String, String>,
}

impl Enterprise {
    /// A pending enterprise with empty optional fields.
    pub fn new(id: u64, name: impl Into<String>, credit_code: impl Into<String>, now: u64) -> Self {
        Enterprise {
            id,
            name: name.into(),
            credit_code: credit_code.into(),
            nature: 0,
            address: String::new(),
            region: Vec::new(),
            website: String::new(),
            industry: String::new(),
            description: String::new(),
            contact: Contact::default(),
            status: EnterpriseStatus::Pending,
            created: now,
            updated: now,
            extra: BTreeMap::new(),
        }
    }
}

impl Stored for Enterprise {}

/// What an identity may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Operator of this node: everything.
    PlatformAdmin,
    /// Manages the prefixes and identifiers of its enterprise.
    EnterpriseUser,
    /// Read-only access to everything, including the audit log.
    Auditor,
}

/// A hashed API token (the clear token is shown once and never stored).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenHash {
    /// Short public id to name the token (e.g. in `idnode user token rm`).
    pub id: String,
    /// SHA-256 (or other, per the caller) of the token, hex.
    pub hash: String,
    pub label: String,
    /// Unix seconds.
    pub created: u64,
    /// Unix seconds; `None` = never.
    pub expires: Option<u64>,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// Unique, case-sensitive.
    pub username: String,
    pub role: Role,
    pub enterprise_id: Option<u64>,
    /// Argon2id PHC string produced by the caller.
    pub password_hash: String,
    pub api_tokens: Vec<TokenHash>,
    pub email: String,
    pub mobile: String,
    /// Handle identity such as `300:88.118.8/admin`, if the account also
    /// authenticates over the Handle protocol.
    pub handle_identity: Option<String>,
    /// Unix seconds.
    pub created: u64,
    pub disabled: bool,
    /// Verifier of the SNMS hashed login (`/identity/token/v1`,
    /// snms-api.md §2.2): lowercase hex SHA-256 of the secret. That login
    /// hashes it with the date, so the node must hold it; it is a
    /// password-equivalent for `/v1` only (plain login checks the Argon2id
    /// `password_hash`). `None` = hashed login disabled for this account.
    pub snms_v1_verifier: Option<String>,
}

impl Identity {
    pub fn new(username: impl Into<String>, role: Role, password_hash: impl Into<String>, now: u64) -> Self {
        Identity {
            username: username.into(),
            role,
            enterprise_id: None,
            password_hash: password_hash.into(),
            api_tokens: Vec::new(),
            email: String::new(),
            mobile: String::new(),
            handle_identity: None,
            created: now,
            disabled: false,
            snms_v1_verifier: None,
        }
    }
}

impl Stored for Identity {}
