//! DARTS's genotype text, the `repr` of its `Genotype` namedtuple as DARTS prints it:
//!
//! `Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ...], normal_concat=[2, 3, 4, 5],
//! reduce=[...], reduce_concat=[2, 3, 4, 5])`
//!
//! Per cell, 2 pairs `(op, input)` per node: node `i`'s are pairs `2i` (branch x) and `2i + 1`
//! (branch y). `parse` also takes any whitespace and line breaks, double quotes, a leading UTF-8
//! byte-order mark, the text without the `Genotype(` ... `)` wrapper, a trailing comma, and a
//! concat written `range(2, 6)` (as DARTS's search logs print it). The fields must come as
//! keywords in DARTS's order, and the concat must be every intermediate node.
use super::{darts_name, Darts, DARTS_OPS};
use crate::arch::{Arch, Branch, Cell, Node};
use crate::error::{clip, strip_bom};
use crate::{Error, OpKind, Result};

/// The fields of a genotype, in their order.
const FIELDS: [&str; 4] = ["normal", "normal_concat", "reduce", "reduce_concat"];

/// DARTS's genotype text of an architecture (checked against the space by the caller).
pub(super) fn format(arch: &Arch) -> String {
    let pairs = |cell: &Cell| {
        let pairs: Vec<String> = cell
            .nodes
            .iter()
            .flat_map(|n| [n.x, n.y])
            .map(|b| format!("('{}', {})", darts_name(b.op), b.input))
            .collect();
        pairs.join(", ")
    };
    let concat: Vec<String> = (2..arch.normal.nodes.len() + 2).map(|s| s.to_string()).collect();
    let concat = concat.join(", ");
    format!(
        "Genotype(normal=[{}], normal_concat=[{concat}], reduce=[{}], reduce_concat=[{concat}])",
        pairs(&arch.normal),
        pairs(&arch.reduce)
    )
}

/// Parses genotype text into an architecture of `space`.
pub(super) fn parse(space: &Darts, text: &str) -> Result<Arch> {
    let mut p = Parser { toks: tokenize(strip_bom(text))?, pos: 0, field: "" };
    let wrapped = p.peek().is_some_and(|t| t.kind == Kind::Word && t.raw == "Genotype");
    if wrapped {
        p.pos += 1;
        p.expect('(', "`(` after `Genotype`")?;
    }
    let normal = p.cell_fields(space, FIELDS[0], FIELDS[1], false)?;
    let reduce = p.cell_fields(space, FIELDS[2], FIELDS[3], true)?;
    p.field = "";
    p.eat(',');
    if wrapped {
        p.expect(')', "`)` closing `Genotype(`")?;
    }
    if let Some(t) = p.peek() {
        return Err(p.err(format!("unexpected {} after the end of the genotype", show(Some(t)))));
    }
    Ok(Arch { normal, reduce })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A name: a letter or `_`, then letters, digits and `_`.
    Word,
    /// Digits only.
    Int,
    /// A quoted string, quotes included in `raw`.
    Str,
    /// One of `PUNCT`.
    Punct,
    /// Anything else up to the next space, punctuation or quote.
    Other,
}

const PUNCT: &str = "()[],=";

#[derive(Debug, Clone, Copy)]
struct Tok<'a> {
    kind: Kind,
    raw: &'a str,
}

impl Tok<'_> {
    fn is(&self, c: char) -> bool {
        self.kind == Kind::Punct && self.raw.starts_with(c)
    }
}

/// How an error message quotes a token (or the lack of one).
fn show(t: Option<Tok>) -> String {
    match t {
        None => "the end of the text".to_string(),
        Some(t) => format!("`{}`", clip(t.raw)),
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok<'_>>> {
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(c) = rest.chars().next() {
        let (kind, len) = if PUNCT.contains(c) {
            (Kind::Punct, 1)
        } else if c == '\'' || c == '"' {
            let end = rest[1..].find(c).ok_or_else(|| {
                Error::Arch(format!("DARTS genotype: unterminated string `{}`", clip(rest.trim_end())))
            })?;
            (Kind::Str, end + 2)
        } else {
            let stop = |ch: char| ch.is_whitespace() || PUNCT.contains(ch) || ch == '\'' || ch == '"';
            let len = rest.find(stop).unwrap_or(rest.len());
            let run = &rest[..len];
            let word = |ch: char| ch.is_ascii_alphanumeric() || ch == '_';
            let kind = if run.bytes().all(|b| b.is_ascii_digit()) {
                Kind::Int
            } else if (c.is_ascii_alphabetic() || c == '_') && run.chars().all(word) {
                Kind::Word
            } else {
                Kind::Other
            };
            (kind, len)
        };
        out.push(Tok { kind, raw: &rest[..len] });
        rest = rest[len..].trim_start();
    }
    Ok(out)
}

struct Parser<'a> {
    toks: Vec<Tok<'a>>,
    pos: usize,
    /// The field being read, for error messages (empty between fields).
    field: &'static str,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<Tok<'a>> {
        self.toks.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<Tok<'a>> {
        let t = self.peek();
        self.pos += usize::from(t.is_some());
        t
    }

    fn err(&self, msg: String) -> Error {
        match self.field {
            "" => Error::Arch(format!("DARTS genotype: {msg}")),
            field => Error::Arch(format!("DARTS genotype field `{field}`: {msg}")),
        }
    }

    /// Consumes `c` if it comes next.
    fn eat(&mut self, c: char) -> bool {
        let here = self.peek().is_some_and(|t| t.is(c));
        self.pos += usize::from(here);
        here
    }

    fn expect(&mut self, c: char, what: &str) -> Result<()> {
        match self.next() {
            Some(t) if t.is(c) => Ok(()),
            t => Err(self.err(format!("expected {what}, got {}", show(t)))),
        }
    }

    /// `name =`, after a `,` unless it is the first field.
    fn key(&mut self, name: &'static str, comma: bool) -> Result<()> {
        self.field = "";
        let missing =
            |p: &Self| p.err(format!("missing field `{name}` (the fields are {}, in this order)", FIELDS.join(", ")));
        if comma && !self.eat(',') {
            return Err(match self.peek() {
                None => missing(self),
                Some(t) if t.is(')') => missing(self),
                t => self.err(format!("expected `,` and field `{name}`, got {}", show(t))),
            });
        }
        match self.next() {
            Some(t) if t.kind == Kind::Word && t.raw == name => {}
            None => return Err(missing(self)),
            Some(t) if t.is(')') => return Err(missing(self)),
            Some(t) if t.kind == Kind::Word && FIELDS.contains(&t.raw) => {
                let order = FIELDS.join(", ");
                return Err(
                    self.err(format!("field `{}` out of order: expected `{name}` (the order is {order})", t.raw))
                );
            }
            t => return Err(self.err(format!("expected field `{name}`, got {}", show(t)))),
        }
        self.expect('=', &format!("`=` after `{name}`"))?;
        self.field = name;
        Ok(())
    }

    /// A cell's two fields, `cell=[pairs], concat=[...]`, after a `,` unless they come first.
    fn cell_fields(&mut self, space: &Darts, cell: &'static str, concat: &'static str, comma: bool) -> Result<Cell> {
        self.key(cell, comma)?;
        let pairs = self.list(Parser::pair)?;
        let cell = self.cell(space, &pairs)?;
        self.key(concat, true)?;
        self.concat(space)?;
        Ok(cell)
    }

    /// `[item, item, ...]`, a trailing comma allowed.
    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        self.expect('[', "`[`")?;
        let mut out = Vec::new();
        while !self.eat(']') {
            out.push(item(self)?);
            if !self.eat(',') {
                self.expect(']', "`,` or `]`")?;
                break;
            }
        }
        Ok(out)
    }

    /// A non-negative integer.
    fn int(&mut self, what: &str) -> Result<usize> {
        match self.next() {
            Some(t) if t.kind == Kind::Int => {
                t.raw.parse().map_err(|_| self.err(format!("{what} `{}` is too large", clip(t.raw))))
            }
            t => Err(self.err(format!("expected {what} (a non-negative integer), got {}", show(t)))),
        }
    }

    /// `('op', input)`: the op name (quotes dropped) and the input.
    fn pair(&mut self) -> Result<(&'a str, usize)> {
        self.expect('(', "`(` opening a pair ('op', input)")?;
        let op = match self.next() {
            Some(t) if t.kind == Kind::Str => &t.raw[1..t.raw.len() - 1],
            t => return Err(self.err(format!("expected an op name in quotes, got {}", show(t)))),
        };
        self.expect(',', "`,` after the op name")?;
        let input = self.int("an input index")?;
        self.expect(')', "`)` closing the pair")?;
        Ok((op, input))
    }

    /// A concat, `[2, 3, 4, 5]` or `range(2, 6)`, which must be every intermediate node.
    fn concat(&mut self, space: &Darts) -> Result<()> {
        let want: Vec<usize> = (2..space.nodes + 2).collect();
        let got = if self.peek().is_some_and(|t| t.kind == Kind::Word && t.raw == "range") {
            self.pos += 1;
            self.expect('(', "`(` after `range`")?;
            let start = self.int("the start of the range")?;
            self.expect(',', "`,` in `range(start, stop)`")?;
            let stop = self.int("the end of the range")?;
            self.expect(')', "`)` closing `range(`")?;
            if (start, stop) == (2, space.nodes + 2) {
                return Ok(());
            }
            format!("range({start}, {stop})")
        } else {
            let got = self.list(|p| p.int("a state index"))?;
            if got == want {
                return Ok(());
            }
            format!("{got:?}")
        };
        Err(self.err(format!(
            "got {}; only the full concatenation of the intermediate nodes, {want:?}, is supported",
            clip(&got)
        )))
    }

    /// The cell of the current field's pairs: 2 per node, each op one of the genotype's seven and
    /// each input one of the states before its node.
    fn cell(&self, space: &Darts, pairs: &[(&str, usize)]) -> Result<Cell> {
        if pairs.len() != 2 * space.nodes {
            let (want, nodes, got) = (2 * space.nodes, space.nodes, pairs.len());
            return Err(
                self.err(format!("expected {want} pairs ('op', input), 2 per node for {nodes} nodes, got {got}"))
            );
        }
        let branch = |k: usize| {
            let (name, input) = pairs[k];
            let (node, which) = (k / 2, ["x", "y"][k % 2]);
            let at = format!("pair {k} (node {node}, branch {which})");
            let op = op_of(name).map_err(|msg| self.err(format!("{at}: {msg}")))?;
            if input >= node + 2 {
                let msg = format!("{at}: input {input} is out of range: node {node} reads 0..={}", node + 1);
                return Err(self.err(format!("{msg} (the two cell inputs and the nodes before it)")));
            }
            Ok(Branch { input, op })
        };
        let nodes = (0..space.nodes).map(|i| Ok(Node { x: branch(2 * i)?, y: branch(2 * i + 1)? }));
        Ok(Cell { nodes: nodes.collect::<Result<_>>()? })
    }
}

/// The op of a DARTS op name, or why it is none of the genotype's seven.
fn op_of(name: &str) -> std::result::Result<OpKind, String> {
    if let Some(op) = DARTS_OPS[1..].iter().find(|o| darts_name(**o) == name) {
        return Ok(*op);
    }
    let allowed: Vec<&str> = DARTS_OPS[1..].iter().map(|o| darts_name(*o)).collect();
    let allowed = allowed.join(", ");
    Err(match name.parse::<OpKind>() {
        Ok(OpKind::Zero) => format!(
            "op `none` cannot stand in a genotype: DARTS genotypes never hold none (its derivation leaves the \
             zero op out); expected one of {allowed}"
        ),
        Ok(OpKind::Identity) => format!("op `{name}` is written `skip_connect` in a DARTS genotype"),
        Ok(_) => format!("op `{name}` is not a DARTS op; expected one of {allowed}"),
        Err(_) => format!("unknown op `{}`; expected one of {allowed}", clip(name)),
    })
}
