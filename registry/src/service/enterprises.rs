//! Enterprise filing (real-name qualification, snms-api.md §6): `apply`
//! (new account + enterprise + prefix), `upgrade-apply` (existing account),
//! listing and detail, and approval. A filed prefix starts in
//! `AwaitingReview` and becomes usable once approved
//! ([`Registrar::approve_enterprise`], or at once with
//! [`super::Limits::auto_approve`]). The request documents are kept
//! verbatim (JSON text in [`Enterprise::extra`]) so the detail endpoint can
//! return every field the client filed.

use std::collections::BTreeMap;

use super::accounts::NewAccount;
use super::prefixes::Page;
use super::{Actor, QuotaKind, Registrar, ServiceError, access};
use crate::ident;
use crate::model::{Contact, Enterprise, EnterpriseStatus, HostingState, Prefix, PrefixState, Role};
use crate::store::WriteCtx;

/// Extra key listing the file ids a filing references (comma-separated).
pub const FILE_RIDS: &str = "fileRids";
/// Extra key of the certificate type (`orgCrtType`).
pub const ORG_CRT_TYPE: &str = "orgCrtType";
/// Extra key of the enterprise prefix filed (`entPrefix`).
pub const ENT_PREFIX: &str = "entPrefix";

/// The qualification data of a filing (the fields the service checks or
/// indexes; the full documents travel in `documents`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filing {
    pub org_name: String,
    /// 1..=5.
    pub org_nature: u8,
    /// 1 unified social credit code, 2 other.
    pub org_crt_type: u8,
    pub org_crt_code: String,
    pub address: String,
    /// Province, city, county codes.
    pub region: Vec<String>,
    pub website: String,
    /// `industryCategory` + `industrySpecific`.
    pub industry: String,
    pub description: String,
    pub contact: Contact,
    pub ent_prefix: String,
    /// Every `…Rid` file id the documents reference.
    pub file_rids: Vec<u64>,
    /// `entBasicInfo`, `entRegisterManageInfo`, `entHostingAndIdentifyServeInfo`
    /// as JSON text, returned by the detail endpoint.
    pub documents: BTreeMap<String, String>,
}

/// Who the filing is for.
#[derive(Debug, Clone)]
pub enum Applicant {
    /// `apply`: a new account (admin only).
    New(NewAccount),
    /// `upgrade-apply`: an existing account.
    Existing(String),
}

fn rids_of(e: &Enterprise) -> Vec<u64> {
    e.extra.get(FILE_RIDS).map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect()).unwrap_or_default()
}

impl Registrar {
    fn all_enterprises(&self) -> Result<Vec<Enterprise>, ServiceError> {
        let mut out = Vec::new();
        let mut after = 0u64;
        loop {
            let page = self.store().list_enterprises(after, 512)?;
            let n = page.len();
            if let Some(last) = page.last() {
                after = last.id;
            }
            out.extend(page);
            if n < 512 {
                return Ok(out);
            }
        }
    }

    /// `POST /snms/api/v3/ent/apply` and `/upgrade-apply`. Returns the
    /// enterprise id.
    pub fn ent_apply(&self, actor: &Actor, who: Applicant, f: &Filing, now: u64) -> Result<u64, ServiceError> {
        access::check_writer(actor)?;
        ident::check_snms_prefix(&f.ent_prefix)
            .map_err(|e| ServiceError::invalid("entBasicInfo.entPrefix", e.to_string()))?;
        // Who, and which enterprise a re-filing updates.
        let existing_identity = match &who {
            Applicant::New(a) => {
                if !actor.is_admin() {
                    return Err(ServiceError::forbidden("只有管理员可以提交企业备案 (administrators only)"));
                }
                self.check_unique_account(&a.username, &a.email, &a.mobile)?;
                None
            }
            Applicant::Existing(username) => {
                let i = self
                    .store()
                    .get_identity(username)?
                    .ok_or_else(|| ServiceError::EntityNotFound { what: "用户", key: username.clone() })?;
                if i.role != Role::EnterpriseUser {
                    return Err(ServiceError::rejected(format!(
                        "用户{username}不是企业用户 (not an enterprise account)"
                    )));
                }
                if !actor.is_admin() && actor.username != i.username {
                    return Err(ServiceError::forbidden("只能修改当前企业的备案 (only your own enterprise)"));
                }
                Some(i)
            }
        };
        let current = match existing_identity.as_ref().and_then(|i| i.enterprise_id) {
            Some(id) => self.store().get_enterprise(id)?,
            None => None,
        };
        let own_id = current.as_ref().map(|e| e.id);
        let all = self.all_enterprises()?;
        for e in all.iter().filter(|e| Some(e.id) != own_id) {
            if e.credit_code == f.org_crt_code
                && e.extra.get(ORG_CRT_TYPE).is_none_or(|t| *t == f.org_crt_type.to_string())
            {
                return Err(ServiceError::rejected(format!(
                    "证件号{}已被其他企业使用 (certificate already filed)",
                    f.org_crt_code
                )));
            }
            if let Some(r) = rids_of(e).into_iter().find(|r| f.file_rids.contains(r)) {
                return Err(ServiceError::rejected(format!("文件{r}已被其他企业使用 (file id already referenced)")));
            }
        }
        // The prefix: new (under a prefix this node homes) or already ours.
        let existing_prefix = self.store().get_prefix(&f.ent_prefix)?;
        let new_prefix = match &existing_prefix {
            Some(p) if p.enterprise_id.is_some() && p.enterprise_id == own_id => false,
            Some(_) => {
                return Err(ServiceError::rejected(format!("前缀{}已被占用 (prefix taken)", f.ent_prefix)));
            }
            None => true,
        };
        let parent = ident::parent_prefix(&f.ent_prefix).and_then(|pp| self.store().longest_homed(pp.as_bytes()));
        if new_prefix && parent.is_none() {
            return Err(ServiceError::invalid(
                "entBasicInfo.entPrefix",
                format!("{} is not under a prefix this node serves", f.ent_prefix),
            ));
        }
        if new_prefix && let (Some(max), Some(id)) = (self.limits().max_prefixes_per_enterprise, own_id) {
            let held = self.store().list_prefixes()?.iter().filter(|p| p.enterprise_id == Some(id)).count() as u64;
            if held >= max {
                return Err(ServiceError::Quota {
                    kind: QuotaKind::Prefixes, scope: format!("企业{id}"), limit: max
                });
            }
        }
        // Write: account, enterprise, prefix.
        let id = match own_id {
            Some(id) => id,
            None => self.store().next_id()?,
        };
        let approved = self.limits().auto_approve;
        let mut e = current.unwrap_or_else(|| {
            let mut e = Enterprise::new(id, "", "", now);
            e.status = if approved { EnterpriseStatus::Approved } else { EnterpriseStatus::Pending };
            e
        });
        e.name = f.org_name.clone();
        e.credit_code = f.org_crt_code.clone();
        e.nature = f.org_nature;
        e.address = f.address.clone();
        e.region = f.region.clone();
        e.website = f.website.clone();
        e.industry = f.industry.clone();
        e.description = f.description.clone();
        e.contact = f.contact.clone();
        e.updated = now;
        e.extra.insert(ORG_CRT_TYPE.into(), f.org_crt_type.to_string());
        e.extra.insert(ENT_PREFIX.into(), f.ent_prefix.clone());
        e.extra.insert(FILE_RIDS.into(), f.file_rids.iter().map(u64::to_string).collect::<Vec<_>>().join(","));
        for (k, v) in &f.documents {
            e.extra.insert(k.clone(), v.clone());
        }
        match who {
            Applicant::New(mut a) => {
                a.role = Role::EnterpriseUser;
                a.enterprise_id = Some(id);
                self.create_account(None, a, now)?;
            }
            Applicant::Existing(_) => {
                if let Some(i) = existing_identity
                    && i.enterprise_id != Some(id)
                {
                    // Compare-and-swap: keeps what another process wrote
                    // to the account meanwhile (sessions, password).
                    crate::store::StoreExt::update_identity(self.store(), &i.username, &mut |cur| {
                        let mut cur = cur.ok_or_else(|| crate::store::StoreError::EntityNotFound {
                            what: "identity",
                            key: i.username.clone(),
                        })?;
                        cur.enterprise_id = Some(id);
                        Ok(cur)
                    })?;
                }
            }
        }
        self.store().put_enterprise(&e)?;
        if new_prefix {
            let mut p = Prefix::new(
                &f.ent_prefix,
                if approved { PrefixState::Enabled } else { PrefixState::AwaitingReview },
                now,
            );
            p.enterprise_id = Some(id);
            p.hosting = HostingState::NotHosted;
            if let Some(m) = parent {
                p.case_policy = m.prefix.case_policy;
            }
            p.description = format!("filed by {}", actor.username);
            self.store().put_prefix(&p, &WriteCtx::new(now, actor.username.clone()))?;
        }
        self.audit(actor, "enterprise.apply", format!("{id} {}", f.ent_prefix), "ok", now)?;
        Ok(id)
    }

    /// Approves a filing: the enterprise becomes `Approved` and its prefixes
    /// awaiting review become enabled (admin only; the admin API / CLI).
    pub fn approve_enterprise(&self, actor: &Actor, id: u64, now: u64) -> Result<(), ServiceError> {
        access::check_writer(actor)?;
        if !actor.is_admin() {
            return Err(ServiceError::forbidden("只有管理员可以审核 (administrators only)"));
        }
        let mut e = self
            .store()
            .get_enterprise(id)?
            .ok_or_else(|| ServiceError::EntityNotFound { what: "企业", key: id.to_string() })?;
        e.status = EnterpriseStatus::Approved;
        e.updated = now;
        self.store().put_enterprise(&e)?;
        for mut p in self.store().list_prefixes()?.into_iter().filter(|p| p.enterprise_id == Some(id)) {
            let mut changed = false;
            for step in [PrefixState::UnderReview, PrefixState::Enabled] {
                if p.state != PrefixState::Enabled && p.state.can_move_to(step) {
                    p.set_state(step, now).map_err(|e| ServiceError::rejected(e.to_string()))?;
                    changed = true;
                }
            }
            if changed {
                self.store().put_prefix(&p, &WriteCtx::new(now, actor.username.clone()))?;
            }
        }
        self.audit(actor, "enterprise.approve", id.to_string(), "ok", now)?;
        Ok(())
    }

    /// `GET /snms/api/v3/ent/page`.
    pub fn ent_page(
        &self,
        actor: &Actor,
        org_name: Option<&str>,
        start: Option<u64>,
        end: Option<u64>,
        page: u64,
        size: u64,
    ) -> Result<Page<Enterprise>, ServiceError> {
        let rows: Vec<Enterprise> = if actor.can_read_all() {
            self.all_enterprises()?
        } else if let Some(id) = actor.enterprise_id {
            self.store().get_enterprise(id)?.into_iter().collect()
        } else {
            Vec::new()
        };
        let rows = rows
            .into_iter()
            .filter(|e| {
                org_name.is_none_or(|n| e.name.contains(n))
                    && start.is_none_or(|s| e.created >= s)
                    && end.is_none_or(|t| e.created <= t)
            })
            .collect();
        Ok(Page::of(rows, page, size))
    }

    /// `GET /snms/api/v3/ent/detail` (`id` absent = the caller's own).
    pub fn ent_detail(&self, actor: &Actor, id: Option<u64>) -> Result<Enterprise, ServiceError> {
        let id = match id.or(actor.enterprise_id) {
            Some(id) => id,
            None => return Err(ServiceError::invalid("id", "required (the account has no enterprise)")),
        };
        if !actor.can_read_all() && actor.enterprise_id != Some(id) {
            return Err(ServiceError::forbidden("无权查看其他企业 (not your enterprise)"));
        }
        self.store()
            .get_enterprise(id)?
            .ok_or_else(|| ServiceError::EntityNotFound { what: "企业", key: id.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::Limits;
    use crate::service::testutil::*;

    fn filing(prefix: &str, code: &str, rids: Vec<u64>) -> Filing {
        Filing {
            org_name: "示例".into(),
            org_nature: 2,
            org_crt_type: 1,
            org_crt_code: code.into(),
            ent_prefix: prefix.into(),
            file_rids: rids,
            ..Default::default()
        }
    }

    fn account(name: &str) -> NewAccount {
        NewAccount {
            username: name.into(),
            role: Role::EnterpriseUser,
            enterprise_id: None,
            password_phc: "$argon2id$stub".into(),
            v1_verifier: None,
            email: format!("{name}@x"),
            mobile: name.into(),
        }
    }

    #[test]
    fn apply_review_page() {
        let f = fixture(Limits::default());
        let id =
            f.reg.ent_apply(&admin(), Applicant::New(account("e3")), &filing("88.1.3", "C3", vec![1, 2]), NOW).unwrap();
        let p = f.store.get_prefix("88.1.3").unwrap().unwrap();
        assert_eq!((p.state, p.enterprise_id), (PrefixState::AwaitingReview, Some(id)));
        assert_eq!(f.store.get_identity("e3").unwrap().unwrap().enterprise_id, Some(id));
        // Duplicates refused.
        assert!(
            f.reg.ent_apply(&admin(), Applicant::New(account("e4")), &filing("88.1.4", "C3", vec![]), NOW).is_err()
        );
        assert!(
            f.reg.ent_apply(&admin(), Applicant::New(account("e4")), &filing("88.1.4", "C4", vec![2]), NOW).is_err()
        );
        assert!(
            f.reg.ent_apply(&admin(), Applicant::New(account("e4")), &filing("88.1.1", "C4", vec![]), NOW).is_err()
        );
        assert!(f.reg.ent_apply(&admin(), Applicant::New(account("e4")), &filing("99.1", "C4", vec![]), NOW).is_err());
        assert!(
            f.reg.ent_apply(&user(1), Applicant::New(account("e4")), &filing("88.1.4", "C4", vec![]), NOW).is_err()
        );
        // Re-filing by the user itself updates.
        let me = Actor::new("e3", Role::EnterpriseUser, Some(id), "ip");
        let mut again = filing("88.1.3", "C3", vec![1, 2]);
        again.org_name = "新名".into();
        assert_eq!(f.reg.ent_apply(&me, Applicant::Existing("e3".into()), &again, NOW).unwrap(), id);
        assert_eq!(f.reg.ent_detail(&me, None).unwrap().name, "新名");
        assert!(f.reg.ent_detail(&me, Some(1)).is_err());
        f.reg.approve_enterprise(&admin(), id, NOW).unwrap();
        assert_eq!(f.store.get_prefix("88.1.3").unwrap().unwrap().state, PrefixState::Enabled);
        assert_eq!(f.reg.ent_page(&admin(), None, None, None, 1, 10).unwrap().total, 3);
        assert_eq!(f.reg.ent_page(&me, None, None, None, 1, 10).unwrap().total, 1);
        assert_eq!(f.reg.ent_page(&admin(), Some("新"), None, None, 1, 10).unwrap().total, 1);
    }
}
