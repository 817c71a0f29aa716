//! Typed decoding of a spanned YAML tree that collects every problem instead of stopping at the
//! first: unknown keys (with the closest valid key), wrong types, missing keys, bad values.

use std::collections::HashSet;

use crate::yaml::{Node, Pos, Value};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub pos: Pos,
    pub message: String,
}

/// Collects diagnostics; every `Option` returned is `None` exactly when something was reported.
#[derive(Default)]
pub struct Ctx {
    pub diags: Vec<Diagnostic>,
    /// The spec file's directory: files a spec names (`model.path`) are relative to it.
    pub dir: std::path::PathBuf,
}

/// The entries of a mapping whose keys were all checked against the allowed set.
pub struct Fields<'a> {
    pub pos: Pos,
    entries: Vec<(&'a str, &'a Node)>,
}

impl<'a> Fields<'a> {
    /// No entries: the fields of a section written as a bare scalar (`loss: triplet`).
    pub fn empty(pos: Pos) -> Fields<'a> {
        Fields {
            pos,
            entries: Vec::new(),
        }
    }

    pub fn get(&self, key: &str) -> Option<&'a Node> {
        self.entries
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }

    /// The value of `key`, or a "missing key" diagnostic at the mapping's position.
    pub fn required(&self, ctx: &mut Ctx, key: &str, what: &str) -> Option<&'a Node> {
        let found = self.get(key);
        if found.is_none() {
            ctx.err(self.pos, format!("{what} is missing required key `{key}`"));
        }
        found
    }

    pub fn keys(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.entries.iter().map(|(k, _)| *k)
    }
}

impl Ctx {
    pub fn err(&mut self, pos: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic {
            pos,
            message: message.into(),
        });
    }

    /// Checks that `node` is a mapping with string keys from `allowed`, no duplicates.
    pub fn map<'a>(&mut self, node: &'a Node, what: &str, allowed: &[&str]) -> Option<Fields<'a>> {
        let Value::Map(entries) = &node.value else {
            self.err(
                node.pos,
                format!("{what} must be a mapping, found {}", node.kind_name()),
            );
            return None;
        };
        let mut seen = HashSet::new();
        let mut fields = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let Value::Scalar { text, .. } = &k.value else {
                self.err(
                    k.pos,
                    format!("keys of {what} must be strings, found {}", k.kind_name()),
                );
                continue;
            };
            if !allowed.contains(&text.as_str()) {
                let hint = closest(text, allowed)
                    .map(|c| format!("; did you mean `{c}`?"))
                    .unwrap_or_else(|| format!("; expected one of {}", list(allowed)));
                self.err(k.pos, format!("unknown key `{text}` in {what}{hint}"));
                continue;
            }
            if !seen.insert(text.as_str()) {
                self.err(k.pos, format!("duplicate key `{text}` in {what}"));
                continue;
            }
            fields.push((text.as_str(), v));
        }
        Some(Fields {
            pos: node.pos,
            entries: fields,
        })
    }

    pub fn seq<'a>(&mut self, node: &'a Node, what: &str) -> Option<&'a [Node]> {
        match &node.value {
            Value::Seq(items) => Some(items),
            _ => {
                self.err(
                    node.pos,
                    format!("{what} must be a list, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.value {
            Value::Scalar { text, .. } => Some(text.clone()),
            _ => {
                self.err(
                    node.pos,
                    format!("{what} must be a string, found {}", node.kind_name()),
                );
                None
            }
        }
    }

    /// An identifier: lowercase letters, digits, `-` and `_`, starting with a letter.
    pub fn ident(&mut self, node: &Node, what: &str) -> Option<String> {
        let s = self.string(node, what)?;
        let ok = s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !ok {
            self.err(
                node.pos,
                format!("{what} `{s}` must be 1-64 of a-z, 0-9, `-`, `_`, starting with a letter"),
            );
            return None;
        }
        Some(s)
    }

    pub fn f64(&mut self, node: &Node, what: &str) -> Option<f64> {
        if let Value::Scalar { text, plain: true } = &node.value {
            if let Ok(v) = text.parse::<f64>() {
                if v.is_finite() {
                    return Some(v);
                }
            }
        }
        self.err(
            node.pos,
            format!("{what} must be a finite number, found {}", describe(node)),
        );
        None
    }

    pub fn int(&mut self, node: &Node, what: &str) -> Option<i64> {
        if let Value::Scalar { text, plain: true } = &node.value {
            if let Ok(v) = text.replace('_', "").parse::<i64>() {
                return Some(v);
            }
        }
        self.err(
            node.pos,
            format!("{what} must be an integer, found {}", describe(node)),
        );
        None
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        if let Value::Scalar { text, plain: true } = &node.value {
            match text.as_str() {
                "true" | "True" | "TRUE" => return Some(true),
                "false" | "False" | "FALSE" => return Some(false),
                _ => {}
            }
        }
        self.err(
            node.pos,
            format!("{what} must be true or false, found {}", describe(node)),
        );
        None
    }

    /// One of a closed set of names, e.g. `optimizer: adam`.
    pub fn choice<T: Copy>(&mut self, node: &Node, what: &str, options: &[(&str, T)]) -> Option<T> {
        let s = self.string(node, what)?;
        if let Some((_, v)) = options.iter().find(|(name, _)| *name == s) {
            return Some(*v);
        }
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let hint = closest(&s, &names)
            .map(|c| format!("did you mean `{c}`? "))
            .unwrap_or_default();
        self.err(
            node.pos,
            format!(
                "unknown {what} `{s}`; {hint}expected one of {}",
                list(&names)
            ),
        );
        None
    }

    /// Reports `message` at `pos` unless `ok`; returns `ok`.
    pub fn check(&mut self, ok: bool, pos: Pos, message: impl FnOnce() -> String) -> bool {
        if !ok {
            self.err(pos, message());
        }
        ok
    }

    /// Sorted, with duplicates (e.g. from decoding both the full and the quick variant) removed.
    pub fn finish(mut self) -> Vec<Diagnostic> {
        self.diags.sort();
        self.diags.dedup();
        self.diags
    }
}

fn describe(node: &Node) -> String {
    match &node.value {
        Value::Scalar { text, plain: true } => format!("`{text}`"),
        Value::Scalar { text, plain: false } => format!("the string \"{text}\""),
        _ => node.kind_name().to_string(),
    }
}

fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The allowed name closest to a misspelling, if any is close enough to be a plausible typo.
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Merges mapping `over` onto mapping `base` key by key (one level); non-mappings replace.
pub fn overlay(base: &Node, over: &Node) -> Node {
    match (&base.value, &over.value) {
        (Value::Map(b), Value::Map(o)) => {
            let mut entries: Vec<(Node, Node)> = b
                .iter()
                .filter(|(bk, _)| !o.iter().any(|(ok, _)| ok.value == bk.value))
                .cloned()
                .collect();
            entries.extend(o.iter().cloned());
            Node {
                value: Value::Map(entries),
                pos: over.pos,
            }
        }
        _ => over.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_key_for_typos() {
        let keys = ["optimizer", "lr", "batch_size", "steps"];
        assert_eq!(closest("optimiser", &keys), Some("optimizer"));
        assert_eq!(closest("batchsize", &keys), Some("batch_size"));
        assert_eq!(closest("zzzz", &keys), None);
    }
}
