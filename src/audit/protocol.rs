//! Protocol flags: what makes an arm's test score something other than an honest held-out
//! estimate. Computed once, here, from the arm as resolved and its run records; carried on
//! each [`ArmResult`](super::ArmResult) (`protocol_flags` in the JSON report) and printed beside
//! its verdict wherever a verdict is shown (terminal, Markdown, HTML).
//!
//! Training itself never takes a decision from the test split unless the spec declares one:
//! a plateau schedule watches the training or validation loss (`monitor:`), best-val selection
//! and early stopping need a validation split, pad lengths and normalisation come from the
//! training split. What a spec may still declare is flagged here.

use serde::{Deserialize, Serialize};

use crate::record::Record;
use crate::spec::{ResolvedArm, Selection, Subset};

/// What kind of departure from an untouched, held-out test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// `selection: best-test`: the checkpoint with the best test accuracy is reported, an
    /// optimistic number not comparable with honestly selected ones (LSTM-FCN's protocol).
    TestSelected,
    /// `data.subset.test`: the metric comes from a sample of the test split.
    TestSubset,
}

/// One flag: its kind and the words the reports print beside the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProtocolFlag {
    pub kind: FlagKind,
    pub text: String,
}

/// The flags of `arm`, whose finished runs are `records` (the test split's sizes come from
/// them; without records, from the spec alone).
pub fn protocol_flags(arm: &ResolvedArm, records: &[&Record]) -> Vec<ProtocolFlag> {
    let mut flags = Vec::new();
    if arm.protocol.selection == Selection::BestTest {
        flags.push(ProtocolFlag {
            kind: FlagKind::TestSelected,
            text: "test-selected: optimistic".into(),
        });
    }
    if let Some(Subset::Count {
        test: Some(asked), ..
    }) = arm.data.subset
    {
        // Records written before the sizes were recorded say 0.
        let sizes = records
            .iter()
            .find(|r| r.test_total > 0)
            .map(|r| (r.test_size.unwrap_or(r.test_total), r.test_total));
        let text = match sizes {
            Some((used, total)) if used < total => {
                Some(format!("test split subset to {used} of {total}"))
            }
            Some(_) => None,
            None => Some(format!("test split subset to at most {asked}")),
        };
        flags.extend(text.map(|text| ProtocolFlag {
            kind: FlagKind::TestSubset,
            text,
        }));
    }
    flags
}
