use super::*;
use crate::space::{Space, SpaceKind};

/// DARTS_V1 and DARTS_V2 of DARTS's `genotypes.py`, as DARTS prints them.
const V1: &str = "Genotype(normal=[('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 0), ('sep_conv_3x3', 1), \
                  ('skip_connect', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('skip_connect', 2)], normal_concat=[2, \
                  3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 0), \
                  ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('avg_pool_3x3', 0)], reduce_concat=[2, \
                  3, 4, 5])";
const V2: &str = "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), \
                  ('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], normal_concat=[2, \
                  3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), ('max_pool_3x3', 1), \
                  ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), ('max_pool_3x3', 1)], reduce_concat=[2, \
                  3, 4, 5])";

fn err(text: &str) -> String {
    Darts::new(4).parse(text).unwrap_err().to_string()
}

const ALLOWED: &str =
    "max_pool_3x3, avg_pool_3x3, skip_connect, sep_conv_3x3, sep_conv_5x5, dil_conv_3x3, dil_conv_5x5";

#[test]
fn darts_v1_and_v2_round_trip_byte_for_byte() {
    let space = Darts::new(4);
    for text in [V1, V2] {
        let arch = space.parse(text).unwrap();
        assert_eq!(space.format(&arch).unwrap(), text);
        let values = space.to_values(&arch).unwrap();
        assert_eq!(space.from_values(&values).unwrap(), arch);
    }
    let v2 = space.parse(V2).unwrap();
    let first = v2.normal.nodes[0];
    assert_eq!((first.x.op, first.x.input, first.y.op, first.y.input), (OpKind::SepConv3x3, 0, OpKind::SepConv3x3, 1));
    assert_eq!(v2.normal.nodes[3].y, crate::Branch { input: 2, op: OpKind::DilConv3x3 });
    // sep_conv_3x3 is op value 3 (DARTS_OPS[4]); skip_connect 2, max_pool_3x3 0.
    let values = space.to_values(&v2).unwrap();
    assert_eq!(&values[..8], &[0, 3, 1, 3, 0, 3, 1, 3]);
    assert_eq!(&values[16..20], &[0, 0, 1, 0]);
    assert_eq!(space.decisions().len(), 32);
    assert_eq!(space.decisions()[1].choices, 7);
    assert_eq!(space.decisions()[30].label, "reduce node 3 y_input");
    assert_eq!(space.ops(), &DARTS_OPS[1..]);
    assert_eq!((space.edges(), Darts::edge_index(2, 1), Darts::edge_index(3, 4)), (14, 6, 13));
}

#[test]
fn lenient_forms_parse_to_the_same_cell() {
    let space = Darts::new(4);
    let v2 = space.parse(V2).unwrap();
    let inner = V2.strip_prefix("Genotype(").and_then(|s| s.strip_suffix(')')).unwrap();
    let spread = V2.replace(", ", ",\n   ").replace('(', " ( ").replace('=', " = ");
    for text in [
        format!("\u{feff}{V2}"),
        V2.replace('\'', "\""),
        inner.to_string(),
        format!("  {spread}\n"),
        V2.replace("[2, 3, 4, 5]", "range(2, 6)"),
        V2.replace("3, 4, 5])", "3, 4, 5],)").replace("1)], r", "1),], r"),
    ] {
        assert_eq!(space.parse(&text).unwrap(), v2, "{text}");
    }
}

/// Each text is refused with a message holding every one of the strings.
fn refused(cases: &[(String, &[&str])]) {
    for (text, wanted) in cases {
        let e = err(text);
        assert!(wanted.iter().all(|w| e.contains(w)), "{text}\n{e}\nwanted {wanted:?}");
    }
}

/// V2 with its first `from` replaced by `to`.
fn v2_with(from: &str, to: &str) -> String {
    V2.replacen(from, to, 1)
}

#[test]
fn bad_ops_are_named_with_the_seven_allowed() {
    refused(&[
        // The first match is pairs 3 and 4 of the normal cell: pair 4, node 2's x, gets the bad op.
        (
            v2_with("('sep_conv_3x3', 1), ('sep_conv_3x3', 1)", "('sep_conv_3x3', 1), ('conv_9x9', 1)"),
            &["field `normal`: pair 4 (node 2, branch x): unknown op `conv_9x9`; expected one of", ALLOWED],
        ),
        (
            v2_with("'dil_conv_3x3'", "'none'"),
            &["pair 7 (node 3, branch y)", "DARTS genotypes never hold none", ALLOWED],
        ),
        (v2_with("'dil_conv_3x3'", "'nor_conv_3x3'"), &["op `nor_conv_3x3` is not a DARTS op", ALLOWED]),
        (v2_with("'skip_connect'", "'identity'"), &["op `identity` is written `skip_connect`"]),
        (
            v2_with("'max_pool_3x3', 1", "max_pool_3x3, 1"),
            &["field `reduce`: expected an op name in quotes, got `max_pool_3x3`"],
        ),
    ]);
}

#[test]
fn inputs_out_of_range_and_wrong_counts_are_named() {
    refused(&[
        (
            v2_with("('sep_conv_3x3', 1)", "('sep_conv_3x3', 2)"),
            &["field `normal`: pair 1 (node 0, branch y): input 2 is out of range: node 0 reads 0..=1"],
        ),
        (
            v2_with("('max_pool_3x3', 1)]", "('max_pool_3x3', 5)]"),
            &["field `reduce`: pair 7 (node 3, branch y): input 5 is out of range: node 3 reads 0..=4"],
        ),
        (
            v2_with(", ('max_pool_3x3', 1)]", "]"),
            &["field `reduce`: expected 8 pairs ('op', input), 2 per node for 4 nodes, got 7"],
        ),
        (
            v2_with("('sep_conv_3x3', 1)", "('sep_conv_3x3', 99999999999999999999999)"),
            &["input index `99999999999999999999999` is too large"],
        ),
        (
            v2_with("('sep_conv_3x3', 1)", "('sep_conv_3x3', -1)"),
            &["expected an input index (a non-negative integer), got `-1`"],
        ),
    ]);
    let e = Darts::new(5).parse(V2).unwrap_err().to_string();
    assert!(e.contains("expected 10 pairs") && e.contains("got 8"), "{e}");
}

#[test]
fn a_partial_concat_is_refused() {
    let only = "only the full concatenation of the intermediate nodes, [2, 3, 4, 5], is supported";
    refused(&[
        (v2_with("[2, 3, 4, 5]", "[2, 3, 4]"), &["field `normal_concat`: got [2, 3, 4]; ", only]),
        (
            v2_with("reduce_concat=[2, 3, 4, 5]", "reduce_concat=range(2, 5)"),
            &["field `reduce_concat`: got range(2, 5)"],
        ),
        (v2_with("[2, 3, 4, 5]", "[4, 5, 6]"), &["got [4, 5, 6]", only]),
    ]);
}

#[test]
fn missing_fields_order_and_trailing_junk_are_named() {
    let cut = &V2[..V2.find(", reduce=").unwrap()];
    refused(&[
        (format!("{cut})"), &["DARTS genotype: missing field `reduce`"]),
        (cut.to_string(), &["missing field `reduce`"]),
        (v2_with(", reduce_concat=[2, 3, 4, 5]", ""), &["missing field `reduce_concat`"]),
        (v2_with("normal_concat", "reduce_concat"), &["field `reduce_concat` out of order: expected `normal_concat`"]),
        (v2_with("normal=", "normal_cell="), &["expected field `normal`, got `normal_cell`"]),
        (format!("{V2} extra"), &["DARTS genotype: unexpected `extra` after the end of the genotype"]),
        (format!("{V2})"), &["unexpected `)` after the end"]),
        (v2_with("Genotype(", "Genotype "), &["expected `(` after `Genotype`, got `normal`"]),
        (V2[..V2.len() - 1].to_string(), &["expected `)` closing `Genotype(`, got the end of the text"]),
        ("Genotype(normal=[(\"sep_conv_3x3, 0), ".to_string(), &["unterminated string"]),
    ]);
}

#[test]
fn a_huge_token_is_cut_in_the_message() {
    let huge = "x".repeat(1_000_000);
    for text in [V2.replacen("sep_conv_3x3", &huge, 1), V2.replacen("Genotype(", &format!("{huge}("), 1)] {
        let e = err(&text);
        assert!(e.len() < 600 && e.contains("... (1000000 bytes)"), "{}", &e[..e.len().min(2000)]);
    }
}

/// Every prefix of a valid genotype, and junk, is an error and never a panic.
#[test]
fn truncated_text_and_junk_are_errors_not_panics() {
    let space = Space::Darts(Darts::new(4));
    let inner = V2.strip_prefix("Genotype(").and_then(|s| s.strip_suffix(')')).unwrap();
    for text in [V1, V2.replace('\'', "\"").as_str(), inner] {
        for (end, _) in text.char_indices().skip(1) {
            let prefix = &text[..end];
            assert!(space.parse(prefix).is_err(), "prefix parsed: {prefix}");
        }
    }
    for junk in [
        "",
        " ",
        "\u{feff}",
        "Genotype",
        "Genotype()",
        "()",
        "[",
        "]",
        ")",
        "'",
        "\"",
        "=",
        ",",
        "normal",
        "normal=",
        "normal=[",
        "normal=[(",
        "normal=[('",
        "normal=[('a'",
        "normal=[('a',",
        "normal=[('a', 1",
        "range(",
        "é'ü",
        "Genotype(normal=[], normal_concat=[], reduce=[], reduce_concat=[])",
        "\0\u{1}\u{7f}",
        "Genotype(normal=[(1, 'sep_conv_3x3')])",
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1)] normal_concat=[2])",
    ] {
        assert!(space.parse(junk).is_err(), "junk parsed: {junk:?}");
    }
    let empty = Darts::new(0);
    let text = "Genotype(normal=[], normal_concat=[], reduce=[], reduce_concat=[])";
    assert_eq!(empty.format(&empty.parse(text).unwrap()).unwrap(), text);
}

#[test]
fn values_and_archs_out_of_the_space_are_refused() {
    let space = Darts::new(4);
    let mut v = vec![0usize; 32];
    v[17] = 7;
    let e = space.validate(&v).unwrap_err().to_string();
    assert!(e.contains("position 17 (reduce node 0 x_op)") && e.contains("0..=6"), "{e}");
    let mut arch = space.parse(V2).unwrap();
    arch.reduce.nodes[1].x.op = OpKind::Zero;
    let e = space.format(&arch).unwrap_err().to_string();
    assert!(e.contains("op none is not in the DARTS space"), "{e}");
    arch.reduce.nodes[1].x.op = OpKind::MaxPool3x3;
    arch.reduce.nodes.pop();
    assert!(space.format(&arch).unwrap_err().to_string().contains("expected 32 integers"));
}

#[test]
fn the_space_enum_serves_darts() {
    let space = Space::by_name("darts", 4).unwrap();
    assert_eq!(space, Space::Darts(Darts::new(4)));
    assert_eq!(space, Space::from(&Darts::new(4)));
    assert_eq!((space.name(), space.decisions().len(), space.ops().len()), ("darts", 32, 7));
    assert_eq!("darts".parse::<SpaceKind>().unwrap().space(3), Space::Darts(Darts::new(3)));
    assert_eq!(SpaceKind::Darts.to_string(), "darts");
    let values = space.parse(V1).unwrap();
    assert_eq!(space.format(&values).unwrap(), V1);
    space.validate(&values).unwrap();
    let e = Space::by_name("amoeba", 4).unwrap_err().to_string();
    assert!(e.contains("`amoeba`") && e.contains("nb201") && e.contains("enas_micro") && e.contains("darts"), "{e}");
    // 7^16 ops and (2*3*4*5)^4 inputs for 4 nodes.
    assert_eq!(space.size(), 7f64.powi(16) * 120f64.powi(4));
}

/// One row of weights: `base` everywhere but at the given columns (DARTS_OPS order: 0 none,
/// 1 max_pool, 2 avg_pool, 3 skip, 4 sep3, 5 sep5, 6 dil3, 7 dil5).
fn row(base: f64, set: &[(usize, f64)]) -> Vec<f64> {
    let mut r = vec![base; 8];
    for &(k, w) in set {
        r[k] = w;
    }
    r
}

#[test]
fn derive_follows_dartss_genotype_rule() {
    // 2 nodes: 5 edges a cell (rows 0-4 normal, 5-9 reduce). By hand:
    // normal node 0 (rows 0, 1): row 0's largest is `none` 0.9, ignored: its strength is sep3's
    //   0.05; row 1's is dil5 0.3. Edge 1 is stronger, so x = (1, dil5 = value 6), y = (0, sep3 = 3).
    //   (Counting `none`, edge 0 would have come first.)
    // normal node 1 (rows 2, 3, 4): strengths 0.4 (max_pool and avg_pool tie: the first, max_pool),
    //   0.2 (sep5), 0.4 (skip). Edges 0 and 2 tie at 0.4: the stable sort keeps 0 first, so
    //   x = (0, max_pool = 0), y = (2, skip = 2); edge 1 is dropped.
    // reduce node 0 (rows 5, 6): row 5 avg_pool 0.5; row 6 none 0.6 (ignored), sep5 0.5. A tie:
    //   x = (0, avg_pool = 1), y = (1, sep5 = 4).
    // reduce node 1 (rows 7, 8, 9): row 7 uniform 0.125 (its op: the first after none, max_pool);
    //   row 8 dil3 0.7; row 9 none 0.97 and 0.03/7 elsewhere. Ranked 8, 7, 9:
    //   x = (1, dil3 = 5), y = (0, max_pool = 0).
    let rows = [
        row(0.01, &[(0, 0.9), (4, 0.05)]),
        row(0.1, &[(7, 0.3)]),
        row(0.05, &[(1, 0.4), (2, 0.4)]),
        row(0.1, &[(5, 0.2)]),
        row(0.1, &[(3, 0.4)]),
        row(0.0, &[(2, 0.5)]),
        row(0.0, &[(0, 0.6), (5, 0.5)]),
        row(0.125, &[]),
        row(0.05, &[(6, 0.7)]),
        row(0.03 / 7.0, &[(0, 0.97)]),
    ];
    let weights: Vec<f64> = rows.concat();
    let space = Darts::new(2);
    let values = space.derive(&weights).unwrap();
    assert_eq!(values, vec![1, 6, 0, 3, 0, 0, 2, 2, 0, 1, 1, 4, 1, 5, 0, 0]);
    space.validate(&values).unwrap();
    let via_enum = Space::Darts(space.clone());
    assert_eq!(via_enum.mixture(), Some((10, &DARTS_OPS[..])));
    assert_eq!(via_enum.derive(&weights).unwrap(), values);
    let arch = space.from_values(&values).unwrap();
    assert_eq!(arch.normal.nodes[0].x, crate::Branch { input: 1, op: OpKind::DilConv5x5 });
}

#[test]
fn derive_gives_valid_cells_and_refuses_bad_weights() {
    let space = Darts::new(4);
    let weights: Vec<f64> = (0..28 * 8).map(|i| ((i * 37 % 101) as f64).sin().abs()).collect();
    space.validate(&space.derive(&weights).unwrap()).unwrap();
    // All equal: every node keeps inputs 0 and 1 with max_pool (value 0), the first op after none.
    assert_eq!(space.derive(&[0.125; 28 * 8]).unwrap(), [0, 0, 1, 0].repeat(8));
    let e = space.derive(&weights[1..]).unwrap_err().to_string();
    assert!(e.contains("28 x 8 = 224 weights") && e.contains("got 223"), "{e}");
    let mut bad = weights.clone();
    bad[8 * 3 + 5] = f64::NAN;
    let e = space.derive(&bad).unwrap_err().to_string();
    assert!(e.contains("weight NaN (edge 3, op 5) is not finite"), "{e}");
}

#[test]
fn mixture_and_derive_of_the_other_spaces() {
    let nb201 = Space::Nb201(crate::Nb201);
    assert_eq!(nb201.mixture(), Some((6, &crate::space::nb201::NB201_OPS[..])));
    // Each edge's largest weight, `none` (column 0) included; a tie goes to the first.
    let mut w = vec![0.2; 30];
    w[1] = 0.5; // edge 0: skip_connect
    w[5] = 0.9; // edge 1: none
    w[13] = 0.3; // edge 2 (row 10..15): nor_conv_3x3 ...
    w[14] = 0.3; // ... ties with avg_pool_3x3: the first
    assert_eq!(nb201.derive(&w).unwrap(), vec![1, 0, 3, 0, 0, 0]);
    assert!(nb201.derive(&w[..29]).is_err());
    let micro = Space::EnasMicro(crate::EnasMicro::new(5));
    assert_eq!(micro.mixture(), None);
    let e = micro.derive(&w).unwrap_err().to_string();
    assert!(e.contains("enas_micro space has no continuous relaxation"), "{e}");
}
