//! Named tensors as JSON, for strategy states: `{"name": {"shape": [..], "dtype": "f32",
//! "data": [..]}}`. Numbers round-trip exactly (serde_json writes the shortest text that reads
//! back to the same f32 or f64).
use candle_core::{DType, Device, Tensor};
use enas_shared::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

#[derive(Serialize, Deserialize)]
struct Entry {
    shape: Vec<usize>,
    dtype: String,
    data: Vec<serde_json::Value>,
}

fn bad(msg: String) -> Error {
    Error::Arch(format!("strategy state: {msg}"))
}

/// Writes tensors (f32, f64 or i64) as JSON, names in sorted order.
pub fn to_json(tensors: &HashMap<String, Tensor>) -> Result<serde_json::Value> {
    let mut out = BTreeMap::new();
    for (name, t) in tensors {
        let flat = t.flatten_all()?;
        let (dtype, data): (&str, Vec<serde_json::Value>) = match t.dtype() {
            DType::F32 => ("f32", flat.to_vec1::<f32>()?.into_iter().map(serde_json::Value::from).collect()),
            DType::F64 => ("f64", flat.to_vec1::<f64>()?.into_iter().map(serde_json::Value::from).collect()),
            DType::I64 => ("i64", flat.to_vec1::<i64>()?.into_iter().map(serde_json::Value::from).collect()),
            other => return Err(bad(format!("tensor `{name}` has dtype {other:?}, not f32, f64 or i64"))),
        };
        out.insert(name.clone(), Entry { shape: t.dims().to_vec(), dtype: dtype.into(), data });
    }
    serde_json::to_value(out).map_err(|e| bad(e.to_string()))
}

/// Reads tensors written by `to_json` (on the CPU).
pub fn from_json(value: &serde_json::Value) -> Result<HashMap<String, Tensor>> {
    let entries: BTreeMap<String, Entry> = serde_json::from_value(value.clone()).map_err(|e| bad(e.to_string()))?;
    let mut out = HashMap::new();
    for (name, e) in entries {
        let n: usize = e.shape.iter().product();
        if e.data.len() != n {
            return Err(bad(format!("tensor `{name}` has {} values for shape {:?}", e.data.len(), e.shape)));
        }
        let not_num = || bad(format!("tensor `{name}` holds a value that is not a {}", e.dtype));
        let t = match e.dtype.as_str() {
            "f32" => {
                let v = e
                    .data
                    .iter()
                    .map(|x| x.as_f64().map(|x| x as f32).ok_or_else(not_num))
                    .collect::<Result<Vec<_>>>()?;
                Tensor::from_vec(v, e.shape.as_slice(), &Device::Cpu)?
            }
            "f64" => {
                let v = e.data.iter().map(|x| x.as_f64().ok_or_else(not_num)).collect::<Result<Vec<_>>>()?;
                Tensor::from_vec(v, e.shape.as_slice(), &Device::Cpu)?
            }
            "i64" => {
                let v = e.data.iter().map(|x| x.as_i64().ok_or_else(not_num)).collect::<Result<Vec<_>>>()?;
                Tensor::from_vec(v, e.shape.as_slice(), &Device::Cpu)?
            }
            other => return Err(bad(format!("tensor `{name}` has unknown dtype `{other}`"))),
        };
        out.insert(name, t);
    }
    Ok(out)
}
