//! What pulls and answers to peers share: the checks of the holder a
//! pull names and of the licence types it asks for, and this region's
//! licences of a holder.

use tongban_proto::ProtoError;
use tongban_proto::services::Holder;
use tongban_service::Query;

use crate::Shared;
use crate::federation::{MAX_TYPES, refused};

/// A holder a pull names: both codes given, each at most 64 characters.
pub(super) fn check_holder(holder: &Holder) -> Result<(), ProtoError> {
    for (name, value) in [("codeType", &holder.code_type), ("code", &holder.code)] {
        if value.is_empty() || value.len() > 64 {
            return Err(ProtoError::service(
                "REQUEST_INVALID",
                format!("holder.{name} is required"),
            ));
        }
    }
    Ok(())
}

/// The licence types a pull names: at most [`MAX_TYPES`] codes.
pub(super) fn check_types(types: &[String]) -> Result<(), ProtoError> {
    if types.len() > MAX_TYPES {
        return Err(ProtoError::service(
            "REQUEST_INVALID",
            format!("licenceTypes is a list of at most {MAX_TYPES} codes"),
        ));
    }
    if types.iter().any(|t| t.is_empty() || t.len() > 32) {
        return Err(ProtoError::service(
            "REQUEST_INVALID",
            "a licence type is a code",
        ));
    }
    Ok(())
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
