//! GS1 Digital Link URIs (GS1 Digital Link standard 1.x, uncompressed path
//! form): `/01/{gtin}`, `/01/{gtin}/21/{serial}`, `/01/{gtin}/10/{lot}` and
//! `/01/{gtin}/10/{lot}/21/{serial}`. The key is validated with the GS1
//! grammar of `registry::ident::gs1` (GTIN length and check digit, serial
//! and lot in character set 82) — a bad one is a 400 naming the problem —
//! and looked up among the GS1 aliases (`registry::service::aliases`): an
//! SGTIN when a serial is given, else the GTIN. A lot alone qualifies the
//! GTIN (aliases bind GTINs and SGTINs, not lots), so `/01/{gtin}/10/{lot}`
//! answers the GTIN's identifier. The answer is the bound identifier's
//! landing page or JSON, by content negotiation ([`super::answer`]).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use idnode_registry::ident::gs1::{Gs1Error, Gs1Key, Gtin, Lot, Serial, Sgtin};
use idnode_registry::ident::scheme::Scheme;
use idnode_registry::service::aliases;

use super::Deps;

/// A parsed Digital Link path (after `/01/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigitalLink {
    pub gtin: Gtin,
    pub lot: Option<Lot>,
    pub serial: Option<Serial>,
}

impl DigitalLink {
    /// Parses `{gtin}[/10/{lot}][/21/{serial}]` (segments percent-decoded).
    pub fn parse(rest: &str) -> Result<Self, String> {
        let parts: Vec<&str> = rest.split('/').collect();
        let gtin = Gtin::parse(parts[0]).map_err(|e| describe(&e))?;
        let mut dl = DigitalLink { gtin, lot: None, serial: None };
        let mut i = 1;
        while i < parts.len() {
            let (ai, value) = (parts[i], parts.get(i + 1).copied());
            let Some(value) = value else { return Err(format!("application identifier {ai:?} has no value")) };
            match ai {
                "10" if dl.lot.is_none() && dl.serial.is_none() => {
                    dl.lot = Some(Lot::parse(value).map_err(|e| describe(&e))?)
                }
                "21" if dl.serial.is_none() => dl.serial = Some(Serial::parse(value).map_err(|e| describe(&e))?),
                _ => return Err(format!("unexpected {ai:?} (after /01/ come /10/{{lot}} and then /21/{{serial}})")),
            }
            i += 2;
        }
        Ok(dl)
    }

    /// The GS1 key the alias is bound to.
    pub fn key(&self) -> Gs1Key {
        match &self.serial {
            Some(s) => Gs1Key::Sgtin(Sgtin { gtin: self.gtin, serial: s.clone() }),
            None => Gs1Key::Gtin(self.gtin),
        }
    }
}

fn describe(e: &Gs1Error) -> String {
    format!("GS1: {e}")
}

pub async fn resolve(
    State(deps): State<Deps>,
    Path(rest): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    req: axum::extract::Request,
) -> Response {
    let html_wanted = super::wants_html(&headers);
    let asked = format!("01/{rest}");
    let dl = match DigitalLink::parse(&rest) {
        Ok(dl) => dl,
        Err(why) => {
            let nf = super::view::NotFound::new(&deps, &asked, Some(why));
            return super::not_found(html_wanted, &nf, StatusCode::BAD_REQUEST);
        }
    };
    let code = dl.key().to_string();
    let store = deps.store.clone();
    let target = tokio::task::spawn_blocking(move || aliases::resolve(&*store, Scheme::Gs1, &code)).await;
    let Ok(Ok(Some(target))) = target else {
        let nf = super::view::NotFound::new(&deps, &asked, None);
        return super::not_found(html_wanted, &nf, StatusCode::NOT_FOUND);
    };
    let noredirect = crate::api::query_pairs(&uri).iter().any(|(k, _)| k == "noredirect");
    let base = super::base_url(&deps, &headers, super::is_tls(req.extensions()));
    super::answer(&deps, target, noredirect, &base, html_wanted).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let dl = DigitalLink::parse("06901234567892/21/SN-1").unwrap();
        assert_eq!(dl.key().to_string(), "(01)06901234567892(21)SN-1");
        let dl = DigitalLink::parse("6901234567892/10/LOT7").unwrap();
        assert_eq!(
            (dl.key().to_string(), dl.lot.unwrap().as_str().to_owned()),
            ("06901234567892".into(), "LOT7".into())
        );
        assert!(DigitalLink::parse("6901234567892/10/L/21/S").unwrap().serial.is_some());
        assert!(DigitalLink::parse("6901234567891").unwrap_err().contains("check digit"));
        assert!(DigitalLink::parse("6901234567892/21").is_err());
        assert!(DigitalLink::parse("6901234567892/22/x").is_err());
        assert!(DigitalLink::parse("6901234567892/21/a b").is_err());
    }
}
