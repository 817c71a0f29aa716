//! The sktime/aeon `.ts` format (UCR/UEA archives): header tags, then one case per line with
//! dimensions separated by `:` and the class label last.
//!
//! Supported in full: univariate and multivariate, equal and variable length, `?` for missing
//! values (read as NaN), timestamped values `(time,value)` (times dropped, recorded in the
//! header), string class labels, `#`/`%` comment lines. Every malformed line is an error naming
//! file, line and the reason.

use std::path::{Path, PathBuf};

use super::DataError;

#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct TsHeader {
    pub problem_name: Option<String>,
    pub timestamps: bool,
    pub missing: bool,
    pub univariate: bool,
    pub dimensions: usize,
    pub equal_length: bool,
    pub series_length: Option<usize>,
    /// Declared class labels in declaration order; `None` for unlabelled or regression files.
    pub class_labels: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TsFile {
    pub header: TsHeader,
    /// `[case][dimension][time]`, NaN where a value is missing.
    pub series: Vec<Vec<Vec<f32>>>,
    /// The raw class label of each case (empty when the file has none).
    pub labels: Vec<String>,
}

fn err(path: &Path, line: usize, message: impl Into<String>) -> DataError {
    DataError::Parse {
        path: PathBuf::from(path),
        line,
        message: message.into(),
    }
}

fn flag(path: &Path, line: usize, tag: &str, value: Option<&str>) -> Result<bool, DataError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        other => Err(err(
            path,
            line,
            format!(
                "@{tag} must be true or false, found `{}`",
                other.unwrap_or("")
            ),
        )),
    }
}

pub fn read(path: &Path) -> Result<TsFile, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let line = e.as_bytes()[..e.utf8_error().valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        err(path, line, "not valid UTF-8")
    })?;
    parse(path, &text)
}

/// Parses `.ts` text; `path` is used for messages.
pub fn parse(path: &Path, text: &str) -> Result<TsFile, DataError> {
    let mut header = TsHeader {
        univariate: true,
        dimensions: 1,
        equal_length: true,
        ..TsHeader::default()
    };
    let mut declared_dims: Option<usize> = None;
    let mut univariate_declared = None;
    let mut class_label_declared = false;
    let mut in_data = false;
    let mut series = Vec::new();
    let mut labels = Vec::new();

    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('%') {
            continue;
        }
        if !in_data {
            let Some(tag_line) = line.strip_prefix('@') else {
                return Err(err(
                    path,
                    line_no,
                    "expected a header tag (`@...`) or `@data` before the data",
                ));
            };
            let mut words = tag_line.split_whitespace();
            let tag = words.next().unwrap_or("").to_ascii_lowercase();
            match tag.as_str() {
                "problemname" => header.problem_name = words.next().map(str::to_string),
                "timestamps" => {
                    header.timestamps = flag(path, line_no, "timeStamps", words.next())?
                }
                "missing" => header.missing = flag(path, line_no, "missing", words.next())?,
                "univariate" => {
                    univariate_declared = Some(flag(path, line_no, "univariate", words.next())?)
                }
                "dimensions" | "dimension" => {
                    let v = words.next().unwrap_or("");
                    declared_dims =
                        Some(v.parse().ok().filter(|&d: &usize| d >= 1).ok_or_else(|| {
                            err(
                                path,
                                line_no,
                                format!("@dimensions must be a positive integer, found `{v}`"),
                            )
                        })?);
                }
                "equallength" => {
                    header.equal_length = flag(path, line_no, "equalLength", words.next())?
                }
                "serieslength" => {
                    let v = words.next().unwrap_or("");
                    header.series_length =
                        Some(v.parse().ok().filter(|&l: &usize| l >= 1).ok_or_else(|| {
                            err(
                                path,
                                line_no,
                                format!("@seriesLength must be a positive integer, found `{v}`"),
                            )
                        })?);
                }
                "classlabel" => {
                    class_label_declared = true;
                    if flag(path, line_no, "classLabel", words.next())? {
                        let names: Vec<String> = words.map(str::to_string).collect();
                        if names.is_empty() {
                            return Err(err(path, line_no, "@classLabel true lists no labels"));
                        }
                        let mut seen = std::collections::HashSet::new();
                        if let Some(dup) = names.iter().find(|n| !seen.insert(n.as_str())) {
                            return Err(err(
                                path,
                                line_no,
                                format!("class label `{dup}` declared twice"),
                            ));
                        }
                        header.class_labels = Some(names);
                    }
                }
                "targetlabel" => {
                    if flag(path, line_no, "targetLabel", words.next())? {
                        return Err(err(
                            path,
                            line_no,
                            "regression files (@targetLabel true) are not supported; repro audits classification claims",
                        ));
                    }
                }
                "data" => {
                    if !class_label_declared {
                        return Err(err(path, line_no, "@data before @classLabel"));
                    }
                    header.univariate =
                        univariate_declared.unwrap_or(declared_dims.is_none_or(|d| d == 1));
                    header.dimensions = match (header.univariate, declared_dims) {
                        (true, Some(d)) if d != 1 => {
                            return Err(err(
                                path,
                                line_no,
                                format!("@univariate true but @dimensions {d}"),
                            ))
                        }
                        (_, Some(d)) => d,
                        (true, None) => 1,
                        (false, None) => 0, // taken from the first case
                    };
                    in_data = true;
                }
                other => return Err(err(path, line_no, format!("unknown header tag `@{other}`"))),
            }
            continue;
        }

        let (case, label) = parse_case(path, line_no, line, &header)?;
        if header.dimensions == 0 {
            header.dimensions = case.len();
        }
        if case.len() != header.dimensions {
            return Err(err(
                path,
                line_no,
                format!(
                    "expected {} dimension(s), found {}",
                    header.dimensions,
                    case.len()
                ),
            ));
        }
        if header.equal_length {
            let expected = header
                .series_length
                .or_else(|| series.first().map(|c: &Vec<Vec<f32>>| c[0].len()));
            if let Some(len) = expected {
                if let Some((d, dim)) = case.iter().enumerate().find(|(_, d)| d.len() != len) {
                    return Err(err(
                        path,
                        line_no,
                        format!(
                            "dimension {} has {} values, but the file declares equal length {len}",
                            d + 1,
                            dim.len()
                        ),
                    ));
                }
            }
        }
        if let Some(label) = label {
            labels.push(label);
        }
        series.push(case);
    }
    if !in_data {
        return Err(err(path, text.lines().count().max(1), "no @data section"));
    }
    if series.is_empty() {
        return Err(err(
            path,
            text.lines().count().max(1),
            "no cases after @data",
        ));
    }
    Ok(TsFile {
        header,
        series,
        labels,
    })
}

fn parse_case(
    path: &Path,
    line_no: usize,
    line: &str,
    header: &TsHeader,
) -> Result<(Vec<Vec<f32>>, Option<String>), DataError> {
    let mut fields: Vec<&str> = split_dims(line, header.timestamps);
    let label = match &header.class_labels {
        Some(declared) => {
            let last = fields.last().map_or("", |f| f.trim());
            if fields.len() >= 2 && declared.iter().any(|d| d == last) {
                fields.pop().map(|l| l.trim().to_string())
            } else if fields.len() < 2
                || last.contains(',')
                || (header.dimensions > 0 && fields.len() <= header.dimensions)
            {
                return Err(err(
                    path,
                    line_no,
                    format!(
                        "expected {} dimension(s) and a class label, the line ends after {} field(s) (truncated line?)",
                        header.dimensions.max(1),
                        fields.len()
                    ),
                ));
            } else {
                return Err(err(
                    path,
                    line_no,
                    format!("class label `{last}` is not declared in @classLabel"),
                ));
            }
        }
        None => None,
    };
    let mut case = Vec::with_capacity(fields.len());
    for (d, field) in fields.iter().enumerate() {
        let values = if header.timestamps {
            parse_timestamped(path, line_no, d, field, header.missing)?
        } else {
            field
                .split(',')
                .enumerate()
                .map(|(k, v)| value(path, line_no, d, k, v, header.missing))
                .collect::<Result<Vec<f32>, DataError>>()?
        };
        case.push(values);
    }
    Ok((case, label))
}

/// Splits on `:` outside parentheses (timestamps such as `(2007-01-01 00:00:00,1.0)` contain it).
fn split_dims(line: &str, timestamps: bool) -> Vec<&str> {
    if !timestamps {
        return line.split(':').collect();
    }
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in line.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ':' if depth == 0 => {
                out.push(&line[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&line[start..]);
    out
}

fn value(
    path: &Path,
    line: usize,
    dim: usize,
    k: usize,
    raw: &str,
    missing_ok: bool,
) -> Result<f32, DataError> {
    let v = raw.trim();
    if v == "?" || v.eq_ignore_ascii_case("nan") {
        if !missing_ok {
            return Err(err(
                path,
                line,
                format!(
                    "dimension {}, value {}: missing value but the header says @missing false",
                    dim + 1,
                    k + 1
                ),
            ));
        }
        return Ok(f32::NAN);
    }
    v.parse::<f32>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| {
            err(
                path,
                line,
                format!(
                    "dimension {}, value {}: `{v}` is not a number",
                    dim + 1,
                    k + 1
                ),
            )
        })
}

fn parse_timestamped(
    path: &Path,
    line: usize,
    dim: usize,
    field: &str,
    missing_ok: bool,
) -> Result<Vec<f32>, DataError> {
    let mut out = Vec::new();
    for (k, pair) in field
        .split(')')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .enumerate()
    {
        let pair = pair.trim_start_matches(',').trim();
        let inner = pair.strip_prefix('(').ok_or_else(|| {
            err(
                path,
                line,
                format!(
                    "dimension {}, value {}: expected `(time,value)`",
                    dim + 1,
                    k + 1
                ),
            )
        })?;
        let v = inner.rsplit(',').next().unwrap_or("");
        out.push(value(path, line, dim, k, v, missing_ok)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<TsFile, DataError> {
        parse(Path::new("x.ts"), text)
    }

    #[test]
    fn multivariate_variable_length_with_string_labels() {
        let f = p("# comment\n@problemName Toy\n@timeStamps false\n@missing true\n@univariate false\n@dimensions 2\n@equalLength false\n@classLabel true walk run\n@data\n1,2,3:4,5,6:walk\n1,?:2,3:run\n").unwrap();
        assert_eq!(f.header.dimensions, 2);
        assert_eq!(f.series[1][0][0], 1.0);
        assert!(f.series[1][0][1].is_nan());
        assert_eq!(f.labels, vec!["walk", "run"]);
    }

    #[test]
    fn timestamps_are_dropped() {
        let f = p("@timeStamps true\n@univariate true\n@equalLength true\n@seriesLength 2\n@classLabel true 1 2\n@data\n(2007-01-01 00:00:00,241.97),(2007-01-01 00:01:00,241.75):1\n").unwrap();
        assert_eq!(f.series[0][0], vec![241.97, 241.75]);
        assert_eq!(f.labels, vec!["1"]);
    }

    #[test]
    fn errors_name_the_line() {
        let head =
            "@univariate true\n@equalLength true\n@seriesLength 3\n@classLabel true a b\n@data\n";
        let cases = [
            ("1,2,3:c\n", 6, "class label `c` is not declared"),
            ("1,x,3:a\n", 6, "value 2: `x` is not a number"),
            ("1,2,3:a\n1,2\n", 7, "truncated line"),
            ("1,2,3:a\n1,2:a\n", 7, "declares equal length 3"),
            ("1,2,3:4,5,6:a\n", 6, "expected 1 dimension(s), found 2"),
            (
                "1,?,3:a\n",
                6,
                "missing value but the header says @missing false",
            ),
        ];
        for (data, line, fragment) in cases {
            match p(&format!("{head}{data}")) {
                Err(DataError::Parse {
                    line: l, message, ..
                }) => {
                    assert_eq!(l, line, "{message}");
                    assert!(message.contains(fragment), "{message}");
                }
                other => panic!("{data:?}: {other:?}"),
            }
        }
    }
}
