//! A small JSON writer for the `--json` views (docs/json.md): values keep
//! the order they are built in, so the output is stable and diffable.

/// A JSON value. Object members keep their insertion order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(&'static str, Json)>),
}

impl Json {
    /// A string from bytes that may not be UTF-8 (module fields, paths):
    /// invalid sequences become U+FFFD, as docs/json.md says.
    pub fn bytes(b: &[u8]) -> Json {
        Json::Str(String::from_utf8_lossy(b).into_owned())
    }

    pub fn str(s: &str) -> Json {
        Json::Str(s.to_string())
    }

    /// A number, or `null` when absent.
    pub fn opt_int(v: Option<i64>) -> Json {
        v.map_or(Json::Null, Json::Int)
    }

    /// The document, indented by two spaces, with a final newline.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let indent = |out: &mut String, d: usize| {
            out.push('\n');
            out.extend(std::iter::repeat_n("  ", d));
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(n) => out.push_str(&n.to_string()),
            Json::Str(s) => escape(out, s),
            Json::Arr(items) if items.is_empty() => out.push_str("[]"),
            Json::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    v.write(out, depth + 1);
                }
                indent(out, depth);
                out.push(']');
            }
            Json::Obj(members) if members.is_empty() => out.push_str("{}"),
            Json::Obj(members) => {
                out.push('{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    indent(out, depth + 1);
                    escape(out, k);
                    out.push_str(": ");
                    v.write(out, depth + 1);
                }
                indent(out, depth);
                out.push('}');
            }
        }
    }
}

fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::Json;

    #[test]
    fn writes_ordered_escaped_json() {
        let v = Json::Obj(vec![
            ("b", Json::Int(-2)),
            ("a", Json::Arr(vec![Json::str("x\"\\\n\u{1}"), Json::Null])),
            ("e", Json::Arr(vec![])),
            ("o", Json::Obj(vec![("t", Json::Bool(true))])),
            ("u", Json::bytes(b"\xffok")),
        ]);
        let want = "{\n  \"b\": -2,\n  \"a\": [\n    \"x\\\"\\\\\\n\\u0001\",\n    null\n  ],\n  \
                    \"e\": [],\n  \"o\": {\n    \"t\": true\n  },\n  \"u\": \"\u{fffd}ok\"\n}\n";
        assert_eq!(v.to_text(), want);
    }
}
