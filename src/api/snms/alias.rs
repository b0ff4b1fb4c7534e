//! Aliases over the SNMS API (idis-node.md §7.4 "mapping"; an idnode
//! extension, not in snms-api.md): `POST /identityv2/alias` binds
//! `{"scheme","code","handle"}`, `GET /identityv2/alias?scheme=&code=` reads
//! a binding, `DELETE /identityv2/alias` (same query or body) removes it.
//! Reading the bound record itself: `GET /identityv2/data/detail?handle=gs1:<gtin>`.

use axum::extract::State;
use axum::response::Response;
use idnode_registry::model::Alias;
use serde_json::{Value, json};

use super::json::Fields;
use super::{Call, Envelope, SnmsState};

const MAX_FIELD: usize = 255;

fn view(a: &Alias) -> Value {
    json!({ "scheme": a.scheme, "code": a.code, "handle": a.target, "created": a.created })
}

pub async fn bind(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let body = call.json()?;
        let f = Fields::of(&body, "")?;
        let (scheme, code) = (f.str_req("scheme", MAX_FIELD)?, f.str_req("code", MAX_FIELD)?);
        let handle = f.str_req("handle", MAX_FIELD)?;
        let a = st.reg().bind_alias(actor, &scheme, &code, &handle, now)?;
        Ok(Envelope::ok(view(&a)))
    })
    .await
}

pub async fn detail(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, _now| {
        let a = st.reg().alias(actor, call.required("scheme")?, call.required("code")?)?;
        Ok(Envelope::ok(view(&a)))
    })
    .await
}

pub async fn unbind(State(st): State<SnmsState>, call: Call) -> Response {
    st.authed(call, |st, actor, call, now| {
        let (scheme, code) = match call.json_opt()? {
            Some(body) => {
                let f = Fields::of(&body, "")?;
                (f.str_req("scheme", MAX_FIELD)?, f.str_req("code", MAX_FIELD)?)
            }
            None => (call.required("scheme")?.to_owned(), call.required("code")?.to_owned()),
        };
        st.reg().unbind_alias(actor, &scheme, &code, now)?;
        Ok(Envelope::ok(json!(true)))
    })
    .await
}
