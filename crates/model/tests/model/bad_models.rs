//! Bad model files and bad requests fail with clear errors, never a panic.

use burn::tensor::{Device, Tensor};
use excite_model::{ModelError, OnnxModel};
use onnx_ir::{
    AttributeProto, GraphProto, Message, ModelProto, NodeProto, TensorProto, ValueInfoProto,
};

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(name)
}

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("excite-bad-models-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A one-input graph `x: [1, 3, 8, 8]` with the given nodes and initializers.
fn model(nodes: Vec<NodeProto>, initializers: Vec<TensorProto>) -> ModelProto {
    let mut input = ValueInfoProto::new();
    input.name = "x".into();
    let shape = &mut input.type_.mut_or_insert_default().mut_tensor_type().shape;
    for d in [1, 3, 8, 8] {
        let mut dim = onnx_ir::TensorShapeProto::new()
            .dim
            .pop()
            .unwrap_or_default();
        dim.set_dim_value(d);
        shape.mut_or_insert_default().dim.push(dim);
    }
    let mut graph = GraphProto::new();
    graph.input.push(input);
    graph.node = nodes;
    graph.initializer = initializers;
    let mut m = ModelProto::new();
    m.graph = Some(graph).into();
    let mut opset = onnx_ir::ModelProto::new()
        .opset_import
        .pop()
        .unwrap_or_default();
    opset.version = 17;
    m.opset_import.push(opset);
    m
}

fn node(op: &str, name: &str, inputs: &[&str]) -> NodeProto {
    let mut n = NodeProto::new();
    n.op_type = op.into();
    n.name = name.into();
    n.input = inputs.iter().map(|s| s.to_string()).collect();
    n.output = vec![name.to_string()];
    n
}

/// A float initializer `w` of the given shape holding `values`.
fn weight(dims: &[i64], values: Vec<f32>) -> TensorProto {
    let mut w = TensorProto::new();
    w.name = "w".into();
    w.dims = dims.to_vec();
    w.data_type = 1;
    w.float_data = values;
    w
}

fn save(m: &ModelProto, name: &str) -> std::path::PathBuf {
    let path = scratch(name);
    std::fs::write(&path, m.write_to_bytes().unwrap()).unwrap();
    path
}

fn load(path: &std::path::Path) -> Result<OnnxModel, ModelError> {
    OnnxModel::load(path, &Device::flex())
}

#[test]
fn missing_file() {
    let err = load(&scratch("nowhere.onnx")).unwrap_err();
    assert!(matches!(err, ModelError::Io { .. }), "{err}");
    assert!(err.to_string().contains("nowhere.onnx"), "{err}");
}

#[test]
fn not_onnx() {
    let path = scratch("text.onnx");
    std::fs::write(&path, "this is not a model, just some text\n").unwrap();
    let err = load(&path).unwrap_err();
    assert!(
        matches!(err, ModelError::Parse { .. } | ModelError::Invalid(_)),
        "{err}"
    );
    let empty = scratch("empty.onnx");
    std::fs::write(&empty, b"").unwrap();
    assert!(load(&empty).unwrap_err().to_string().contains("empty"));
}

#[test]
fn truncated_file() {
    let bytes = std::fs::read(testdata("tiny_cnn.onnx")).unwrap();
    let path = scratch("truncated.onnx");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = load(&path).unwrap_err();
    assert!(matches!(err, ModelError::Parse { .. }), "{err}");
}

#[test]
fn empty_graph() {
    let err = load(&save(&model(vec![], vec![]), "empty_graph.onnx")).unwrap_err();
    assert!(err.to_string().contains("no nodes"), "{err}");
    let mut no_graph = ModelProto::new();
    no_graph.ir_version = 8;
    let err = load(&save(&no_graph, "no_graph.onnx")).unwrap_err();
    assert!(err.to_string().contains("no graph"), "{err}");
}

#[test]
fn unsupported_ops_fail_late_and_are_listed_at_once() {
    let m = model(
        vec![
            node("Relu", "r", &["x"]),
            node("Einsum", "mix", &["r"]),
            node("Einsum", "mix2", &["mix"]),
            node("Hardmax", "hard", &["r"]),
        ],
        vec![],
    );
    let loaded = load(&save(&m, "einsum.onnx")).unwrap();
    let report = loaded.unsupported().to_string();
    assert!(
        report.contains("Einsum (opset 17) x2: nodes `mix`, `mix2`")
            && report.contains("Hardmax (opset 17) x1: node `hard`"),
        "{report}"
    );
    // A layer before the unsupported ops runs; one after them names the first it needs.
    let x = Tensor::<4>::zeros([1, 3, 8, 8], &Device::flex());
    loaded.forward_to(x.clone(), &["r"]).unwrap();
    let err = loaded.forward_to(x, &["mix2"]).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ModelError::UnsupportedOp { .. }), "{text}");
    assert!(
        text.contains("`mix2` needs node `mix`") && text.contains("Hardmax"),
        "{text}"
    );
    assert!(
        text.contains("Conv") && text.contains("MaxPool"),
        "lists supported ops: {text}"
    );
}

#[test]
fn external_data_file_missing() {
    let mut weight = weight(&[4, 3, 3, 3], Vec::new());
    weight.data_location = protobuf::EnumOrUnknown::from_i32(1);
    let mut location = onnx_ir::ModelProto::new()
        .metadata_props
        .pop()
        .unwrap_or_default();
    location.key = "location".into();
    location.value = "weights_that_are_not_here.bin".into();
    weight.external_data.push(location);
    let m = model(vec![node("Conv", "c", &["x", "w"])], vec![weight]);
    let err = load(&save(&m, "external.onnx")).unwrap_err();
    assert!(
        err.to_string().contains("weights_that_are_not_here.bin"),
        "{err}"
    );
}

#[test]
fn inconsistent_tensor_is_rejected() {
    let m = model(
        vec![node("Conv", "c", &["x", "w"])],
        vec![weight(&[4, 3, 3, 3], vec![0.5; 7])],
    );
    let err = load(&save(&m, "short_weight.onnx")).unwrap_err();
    assert!(err.to_string().contains("holds 7 values"), "{err}");
}

#[test]
fn node_without_output() {
    let mut relu = node("Relu", "r", &["x"]);
    relu.output.clear();
    let err = load(&save(&model(vec![relu], vec![]), "no_output.onnx")).unwrap_err();
    assert!(err.to_string().contains("no output"), "{err}");
}

#[test]
fn bad_attributes_are_errors() {
    let mut conv = node("Conv", "c", &["x", "w"]);
    let mut strides = AttributeProto::new();
    strides.name = "strides".into();
    strides.ints = vec![0, 1];
    conv.attribute.push(strides);
    let weights = vec![weight(&[4, 3, 3, 3], vec![0.5; 108])];
    let err = load(&save(&model(vec![conv], weights), "bad_stride.onnx")).unwrap_err();
    assert!(
        matches!(err, ModelError::BadNode { .. }) && err.to_string().contains("strides"),
        "{err}"
    );
}

#[test]
fn unknown_layer_suggests_near_names() {
    let model = load(&testdata("tiny_cnn.onnx")).unwrap();
    let err = model.check_layer("dw_relu").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("did you mean dw_relu6"), "{text}");
    let input = Tensor::<4>::zeros([1, 3, 32, 32], &Device::flex());
    assert!(
        model
            .forward_to(input, &["conv9"])
            .unwrap_err()
            .to_string()
            .contains("conv1")
    );
}

#[test]
fn input_with_wrong_channel_count() {
    let model = load(&testdata("tiny_cnn.onnx")).unwrap();
    let input = Tensor::<4>::zeros([1, 4, 32, 32], &Device::flex());
    let err = model.forward_to(input, &["conv1"]).unwrap_err();
    assert!(matches!(err, ModelError::BadInput(_)), "{err}");
    assert!(err.to_string().contains("expects 3"), "{err}");
}

/// A tiny deterministic generator for the mutations.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % below.max(1)
    }
}

#[test]
fn mutated_files_never_panic_the_loader() {
    let original = std::fs::read(testdata("tiny_cnn.onnx")).unwrap();
    let mut rng = Lcg(42);
    let (mut loaded, mut rejected) = (0, 0);
    for round in 0..3000 {
        let mut bytes = original.clone();
        match round % 4 {
            0 => {
                for _ in 0..1 + rng.next(8) {
                    let i = rng.next(bytes.len());
                    bytes[i] = rng.next(256) as u8;
                }
            }
            1 => bytes.truncate(rng.next(bytes.len())),
            2 => {
                // Damage the header region, where shapes and attributes live.
                let i = rng.next(bytes.len().min(4096));
                bytes[i] ^= 1 << rng.next(8);
            }
            _ => {
                let i = rng.next(bytes.len());
                let chunk: Vec<u8> = (0..rng.next(64)).map(|_| rng.next(256) as u8).collect();
                bytes.splice(i..i, chunk);
            }
        }
        let started = std::time::Instant::now();
        let result = excite_model::decode_model(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|proto| {
                OnnxModel::from_proto(&proto, None, &Device::flex()).map_err(|e| e.to_string())
            });
        assert!(
            started.elapsed().as_secs() < 5,
            "round {round} took too long"
        );
        match result {
            Ok(model) => {
                loaded += 1;
                // A model that loads must also run (or fail cleanly) on its declared input.
                let shape = model.input_shape();
                let dim = |i: usize, d: usize| shape.get(i).copied().flatten().unwrap_or(d);
                let input =
                    Tensor::<4>::zeros([1, dim(1, 3), dim(2, 8), dim(3, 8)], &Device::flex());
                let _ = model.forward(input);
            }
            Err(message) => {
                rejected += 1;
                assert!(!message.is_empty());
            }
        }
    }
    assert!(
        loaded > 0 && rejected > 0,
        "loaded {loaded}, rejected {rejected}"
    );
}

#[test]
fn the_first_non_finite_layer_is_named() {
    let nodes = vec![
        node("Relu", "r", &["x"]),
        node("Div", "d", &["r", "w"]),
        node("Relu", "out", &["d"]),
    ];
    let m = model(nodes, vec![weight(&[1], vec![0.0])]);
    let model = load(&save(&m, "divide_by_zero.onnx")).unwrap();
    let input = Tensor::<4>::ones([1, 3, 8, 8], &Device::flex());
    assert_eq!(
        model
            .first_non_finite(input.clone(), &["out"])
            .unwrap()
            .as_deref(),
        Some("d")
    );
    assert_eq!(model.first_non_finite(input, &["r"]).unwrap(), None);
}
