//! What pulls and answers to peers share: the holder a pull names, the
//! licence types it asks for, and this region's licences of a holder.

use serde_json::{Value, json};
use tongban_proto::ProtoError;
use tongban_service::Query;

use crate::Shared;
use crate::federation::{MAX_TYPES, refused};

/// A holder as pulls name it.
#[derive(Debug, Clone)]
pub(super) struct Holder {
    pub(super) code_type: String,
    pub(super) code: String,
}

impl Holder {
    pub(super) fn of(p: &Value) -> Result<Holder, ProtoError> {
        let field = |name: &str| {
            p.pointer(&format!("/holder/{name}"))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty() && s.len() <= 64)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ProtoError::service("REQUEST_INVALID", format!("holder.{name} is required"))
                })
        };
        Ok(Holder {
            code_type: field("codeType")?,
            code: field("code")?,
        })
    }

    pub(super) fn to_json(&self) -> Value {
        json!({"codeType": self.code_type, "code": self.code})
    }

    pub(super) fn describe(&self) -> String {
        format!("{}:{}", self.code_type, self.code)
    }
}

pub(super) fn types_of(p: &Value) -> Result<Vec<String>, ProtoError> {
    let Some(list) = p.get("licenceTypes") else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .filter(|l| l.len() <= MAX_TYPES)
        .ok_or_else(|| {
            ProtoError::service(
                "REQUEST_INVALID",
                format!("licenceTypes is a list of at most {MAX_TYPES} codes"),
            )
        })?;
    list.iter()
        .map(|t| {
            t.as_str()
                .filter(|s| !s.is_empty() && s.len() <= 32)
                .map(str::to_owned)
                .ok_or_else(|| ProtoError::service("REQUEST_INVALID", "a licence type is a code"))
        })
        .collect()
}

/// A string member as sent (never trimmed: a purpose is recorded exactly
/// as stated), or empty.
pub(super) fn text(p: &Value, name: &str) -> String {
    p.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// Licences of `holder` in this region, one store query (and one use
/// record) per type, or one for all types.
pub(super) async fn local_licences(
    shared: &Shared,
    holder: &Holder,
    types: &[String],
    query: &Query,
) -> Result<Vec<tongban_service::Found>, ProtoError> {
    let mut found = Vec::new();
    let all = [None];
    let wanted: Vec<Option<&str>> = if types.is_empty() {
        all.to_vec()
    } else {
        types.iter().map(|t| Some(t.as_str())).collect()
    };
    for t in wanted {
        found.extend(
            shared
                .hub
                .find_by_holder(&holder.code_type, &holder.code, t, false, query)
                .await
                .map_err(refused)?,
        );
    }
    Ok(found)
}
