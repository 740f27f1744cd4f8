//! Flags that name members of a closed set (search spaces, strategies, proxies): clap value
//! parsers that parse them into their enums and list the names in `--help` and in errors.
use anyhow::Result;
use clap::builder::{PossibleValue, StringValueParser, TypedValueParser};
use enas_shared::objective::ObjectiveKind;
use enas_shared::strategy_config::StrategyKind;
use enas_shared::{ProxyKind, SpaceKind};
use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

/// The members of a closed set a flag names: their names, and the `FromStr` that parses them.
pub trait Names: FromStr<Err: Display> + Copy + Send + Sync + 'static {
    fn names() -> Vec<&'static str>;
}

impl Names for SpaceKind {
    fn names() -> Vec<&'static str> {
        SpaceKind::ALL.iter().map(|k| k.name()).collect()
    }
}

impl Names for StrategyKind {
    fn names() -> Vec<&'static str> {
        StrategyKind::ALL.iter().map(|k| k.name()).collect()
    }
}

impl Names for ObjectiveKind {
    fn names() -> Vec<&'static str> {
        ObjectiveKind::ALL.iter().map(|k| k.name()).collect()
    }
}

impl Names for ProxyKind {
    fn names() -> Vec<&'static str> {
        ProxyKind::NAMED.iter().map(|k| k.name()).collect()
    }
}

/// One item of a comma-separated list flag: a name, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneOrAll<T> {
    One(T),
    All,
}

/// Parses one name of `T` (surrounding spaces allowed) with `T`'s `FromStr`, whose error (the
/// known names) clap prints; `--help` lists the names.
#[derive(Clone)]
pub struct Name<T>(PhantomData<fn() -> T>);

pub fn name<T>() -> Name<T> {
    Name(PhantomData)
}

impl<T: Names> TypedValueParser for Name<T> {
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<T, clap::Error> {
        StringValueParser::new()
            .try_map(|s| s.trim().parse::<T>().map_err(|e| e.to_string()))
            .parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(T::names().into_iter().map(PossibleValue::new)))
    }
}

/// [`Name`], or `all`.
#[derive(Clone)]
pub struct NameOrAll<T>(PhantomData<fn() -> T>);

pub fn name_or_all<T>() -> NameOrAll<T> {
    NameOrAll(PhantomData)
}

impl<T: Names> TypedValueParser for NameOrAll<T> {
    type Value = OneOrAll<T>;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> std::result::Result<OneOrAll<T>, clap::Error> {
        let parse = |s: String| match s.trim() {
            "all" => Ok(OneOrAll::All),
            name => name.parse::<T>().map(OneOrAll::One).map_err(|e| e.to_string()),
        };
        StringValueParser::new().try_map(parse).parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(T::names().into_iter().chain(["all"]).map(PossibleValue::new)))
    }
}

/// The members a list flag (`flag`, for errors) names, in its order: `all` alone gives `all()`;
/// a name given twice, or `all` beside names, is an error.
pub fn resolve<T: Copy + PartialEq + Display>(
    flag: &str,
    items: &[OneOrAll<T>],
    all: impl FnOnce() -> Vec<T>,
) -> Result<Vec<T>> {
    if items == [OneOrAll::All] {
        return Ok(all());
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match *item {
            OneOrAll::All => anyhow::bail!("{flag}: `all` stands alone; give it, or names without it"),
            OneOrAll::One(x) => {
                anyhow::ensure!(!out.contains(&x), "{flag} names `{x}` twice");
                out.push(x);
            }
        }
    }
    Ok(out)
}
