//! (to come)

use super::areas::Call;
use crate::Served;

/// The sample calls of this area, for the role matrix.
pub async fn calls(_served: &Served) -> Vec<Call> {
    Vec::new()
}
