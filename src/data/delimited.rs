//! CSV/TSV series files in the UCR 2018 layout: one series per line, the class label first,
//! then the values; `NaN` (or an empty trailing run) pads shorter series. The delimiter (tab or
//! comma) is taken from the first data line. Errors name file and line.

use std::path::{Path, PathBuf};

use super::DataError;

/// Series (univariate, NaN-free, trailing padding removed) and their raw labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Delimited {
    pub series: Vec<Vec<f32>>,
    pub labels: Vec<String>,
}

pub fn read(path: &Path) -> Result<Delimited, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Delimited, DataError> {
    let err = |line: usize, message: String| DataError::Parse {
        path: PathBuf::from(path),
        line,
        message,
    };
    let mut delimiter = None;
    let (mut series, mut labels) = (Vec::new(), Vec::new());
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() {
            continue;
        }
        let d = *delimiter.get_or_insert(if line.contains('\t') { '\t' } else { ',' });
        let mut fields = line.split(d).map(str::trim);
        let label = fields.next().unwrap_or_default();
        if label.is_empty() {
            return Err(err(i + 1, "empty class label in the first column".into()));
        }
        let mut values = Vec::new();
        for (k, f) in fields.enumerate() {
            if f.is_empty() || f.eq_ignore_ascii_case("nan") {
                values.push(f32::NAN);
                continue;
            }
            let v = f
                .parse::<f32>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| err(i + 1, format!("column {}: `{f}` is not a number", k + 2)))?;
            values.push(v);
        }
        while values.last().is_some_and(|v| v.is_nan()) {
            values.pop();
        }
        if values.is_empty() {
            return Err(err(i + 1, "a label but no values".into()));
        }
        if values.iter().any(|v| v.is_nan()) {
            return Err(err(
                i + 1,
                "missing value inside the series (only trailing padding may be empty or NaN)"
                    .into(),
            ));
        }
        labels.push(label.to_string());
        series.push(values);
    }
    if series.is_empty() {
        return Err(err(1, "no series".into()));
    }
    Ok(Delimited { series, labels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_with_padding_and_string_labels() {
        let d = parse(Path::new("x.tsv"), "a\t1\t2\t3\nb\t4\t5\tNaN\n").unwrap();
        assert_eq!(d.series, vec![vec![1.0, 2.0, 3.0], vec![4.0, 5.0]]);
        assert_eq!(d.labels, vec!["a", "b"]);
    }

    #[test]
    fn bad_number_names_line_and_column() {
        let e = parse(Path::new("x.csv"), "1,0.5,0.25\n2,0.5,abc\n").unwrap_err();
        assert_eq!(e.to_string(), "x.csv:2: column 3: `abc` is not a number");
    }
}
