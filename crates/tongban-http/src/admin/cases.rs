//! (to come)

use utoipa::OpenApi;

use crate::Api;

pub(crate) fn routes() -> Api {
    Api::new()
}

/// This area's part of the OpenAPI document.
#[derive(Debug, OpenApi)]
#[openapi()]
pub(crate) struct Doc;
