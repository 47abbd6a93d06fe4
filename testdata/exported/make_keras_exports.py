#!/usr/bin/env python3
"""Export compact Keras CNNs to ONNX with the real tf2onnx converter and
record onnxruntime reference values next to each file.

Run (see testdata/exported/README.md, section "Keras (tf2onnx)"):

    python3.11 -m venv .venv-keras
    .venv-keras/bin/pip install tensorflow-cpu==2.21.0 tf2onnx==1.17.0 \
        onnx==1.23.2 onnxruntime==1.32.0 numpy==2.4.6 protobuf==7.36.2 keras==3.15.1
    .venv-keras/bin/python testdata/exported/make_keras_exports.py

Writes keras_<arch>_op<N>.onnx and keras_<arch>_op<N>.json into the folder of
this script.  Nothing else is touched.

Models: random weights (weights=None), keras.utils.set_random_seed(0) before
each build.  Because freshly initialised BatchNormalization layers are an
identity and fresh biases are zero (which would hide bugs in how an
interpreter applies them), every BatchNormalization's gamma/beta/moving
statistics and every Conv/Dense bias are then overwritten with deterministic
pseudo-random values (numpy RandomState(1234)).  The converter sees an
ordinary Keras model either way.

Where keras.applications hard-codes widths that would give multi-MB files,
the model is either built with the application's own (private) builder at a
smaller width/depth (ResNet, DenseNet, EfficientNet) or rebuilt here at small
width with the same Keras layer kinds and block patterns (VGG16, InceptionV3,
Xception); the json's "architecture" says which.
"""

import collections
import json
import math
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

import numpy as np
import onnx
import onnxruntime as ort
import tensorflow as tf
import keras
from keras import layers
import tf2onnx

OUT_DIR = os.path.dirname(os.path.abspath(__file__))
INPUT_RULE = (
    "x[i] = ((i * 37 + 11) % 251) / 125 - 1 for the flat row-major index i, float32"
)


# ---------------------------------------------------------------- models ---

def resnet50_compact():
    from keras.src.applications import resnet as R

    def stack_fn(x):
        x = R.stack_residual_blocks_v1(x, 8, 2, stride1=1, name="conv2")
        x = R.stack_residual_blocks_v1(x, 16, 2, name="conv3")
        x = R.stack_residual_blocks_v1(x, 32, 2, name="conv4")
        return R.stack_residual_blocks_v1(x, 64, 1, name="conv5")

    m = R.ResNet(stack_fn, preact=False, use_bias=True, include_top=True,
                 weights=None, input_shape=(64, 64, 3), classes=10,
                 name="resnet50")
    desc = ("ResNet50 (compact: keras.applications' own ResNet builder and "
            "stack_residual_blocks_v1 bottleneck blocks — 7x7 stem with "
            "ZeroPadding2D, MaxPooling2D, conv-shortcut and identity blocks "
            "with Add, GlobalAveragePooling2D, Dense softmax — at bottleneck "
            "widths 8/16/32/64 and blocks 2/2/2/1 instead of 64/128/256/512 "
            "and 3/4/6/3; input 64x64x3, 10 classes)")
    probes = ["conv1_relu", "conv2_block2_out", "conv3_block2_out",
              "conv4_block1_out", "conv5_block1_out", "avg_pool"]
    return m, desc, probes, "conv5_block1_out"


def vgg16_compact():
    inp = keras.Input((64, 64, 3), name="input_layer")
    x = inp
    widths = [8, 16, 32, 64, 64]
    convs = [2, 2, 3, 3, 3]
    for b, (w, n) in enumerate(zip(widths, convs), start=1):
        for c in range(1, n + 1):
            x = layers.Conv2D(w, (3, 3), activation="relu", padding="same",
                              name=f"block{b}_conv{c}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(64, activation="relu", name="fc1")(x)
    x = layers.Dense(64, activation="relu", name="fc2")(x)
    x = layers.Dense(10, activation="softmax", name="predictions")(x)
    m = keras.Model(inp, x, name="vgg16")
    desc = ("VGG16 (compact copy of keras.applications.VGG16's structure: "
            "5 blocks of 2/2/3/3/3 Conv2D(3x3, same, relu) + MaxPooling2D(2), "
            "Flatten, Dense fc1/fc2 relu, Dense softmax; widths 8/16/32/64/64 "
            "and fc 64 instead of 64..512 and 4096; input 64x64x3, 10 classes)")
    probes = ["block1_conv2", "block2_pool", "block3_conv3", "block5_conv3",
              "flatten", "fc2"]
    return m, desc, probes, "block5_conv3"


def mobilenetv2():
    m = keras.applications.MobileNetV2(input_shape=(64, 64, 3), alpha=0.35,
                                       include_top=True, weights=None,
                                       classes=10)
    desc = ("MobileNetV2 (the real keras.applications.MobileNetV2 with "
            "alpha=0.35, input 64x64x3, 10 classes)")
    probes = ["Conv1_relu", "block_2_add", "block_6_expand_relu",
              "block_13_depthwise_relu", "block_15_add", "out_relu",
              "global_average_pooling2d"]
    return m, desc, probes, "out_relu"


def efficientnetb0_compact():
    from keras.src.applications import efficientnet as E
    m = E.EfficientNet(width_coefficient=0.25, depth_coefficient=1.0,
                       default_size=224, dropout_rate=0.2,
                       include_top=True, weights=None,
                       input_shape=(64, 64, 3), classes=10,
                       name="efficientnetb0")
    # Give the (un-adapted) Normalization layer ImageNet-like statistics.
    for lay in m.layers:
        if isinstance(lay, layers.Normalization):
            lay.adapt_mean.assign(np.array([0.485, 0.456, 0.406], np.float32))
            lay.adapt_variance.assign(
                np.array([0.229, 0.224, 0.225], np.float32) ** 2)
            lay.finalize_state()
    desc = ("EfficientNetB0 (compact: keras.applications' own EfficientNet "
            "builder with B0's depth (16 MBConv blocks) and "
            "width_coefficient=0.25 instead of 1.0 — Rescaling + "
            "Normalization stem, swish, DepthwiseConv2D, squeeze-excite with "
            "GlobalAveragePooling2D/Reshape/multiply, drop-connect Dropout, "
            "top Dropout; input 64x64x3, 10 classes)")
    probes = ["stem_activation", "block2a_activation", "block4a_se_excite",
              "block5c_add", "top_activation", "avg_pool"]
    return m, desc, probes, "top_activation"


def inceptionv3_compact():
    def conv2d_bn(x, filters, rows, cols, padding="same", strides=(1, 1),
                  name=None):
        # Same as keras.applications.inception_v3.conv2d_bn
        bn_name = None if name is None else name + "_bn"
        conv_name = None if name is None else name + "_conv"
        act_name = None if name is None else name
        x = layers.Conv2D(filters, (rows, cols), strides=strides,
                          padding=padding, use_bias=False, name=conv_name)(x)
        x = layers.BatchNormalization(axis=3, scale=False, name=bn_name)(x)
        return layers.Activation("relu", name=act_name)(x)

    inp = keras.Input((107, 107, 3), name="input_layer")
    x = conv2d_bn(inp, 8, 3, 3, strides=(2, 2), padding="valid", name="c1")
    x = conv2d_bn(x, 8, 3, 3, padding="valid", name="c2")
    x = conv2d_bn(x, 16, 3, 3, name="c3")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), name="pool1")(x)
    x = conv2d_bn(x, 16, 1, 1, padding="valid", name="c4")
    x = conv2d_bn(x, 24, 3, 3, padding="valid", name="c5")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), name="pool2")(x)

    # mixed 0: 35x35-type block
    b1 = conv2d_bn(x, 8, 1, 1, name="m0_b1x1")
    b5 = conv2d_bn(x, 6, 1, 1, name="m0_b5x5_1")
    b5 = conv2d_bn(b5, 8, 5, 5, name="m0_b5x5_2")
    bd = conv2d_bn(x, 8, 1, 1, name="m0_b3dbl_1")
    bd = conv2d_bn(bd, 12, 3, 3, name="m0_b3dbl_2")
    bd = conv2d_bn(bd, 12, 3, 3, name="m0_b3dbl_3")
    bp = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same",
                                 name="m0_avgpool")(x)
    bp = conv2d_bn(bp, 4, 1, 1, name="m0_bpool")
    x = layers.Concatenate(axis=3, name="mixed0")([b1, b5, bd, bp])

    # mixed 3: reduction
    b3 = conv2d_bn(x, 24, 3, 3, strides=(2, 2), padding="valid", name="m3_b3x3")
    bd = conv2d_bn(x, 8, 1, 1, name="m3_b3dbl_1")
    bd = conv2d_bn(bd, 12, 3, 3, name="m3_b3dbl_2")
    bd = conv2d_bn(bd, 12, 3, 3, strides=(2, 2), padding="valid",
                   name="m3_b3dbl_3")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2), name="m3_maxpool")(x)
    x = layers.Concatenate(axis=3, name="mixed3")([b3, bd, bp])

    # mixed 4: 17x17-type block with 1x7 / 7x1
    b1 = conv2d_bn(x, 24, 1, 1, name="m4_b1x1")
    b7 = conv2d_bn(x, 16, 1, 1, name="m4_b7x7_1")
    b7 = conv2d_bn(b7, 16, 1, 7, name="m4_b7x7_2")
    b7 = conv2d_bn(b7, 24, 7, 1, name="m4_b7x7_3")
    bd = conv2d_bn(x, 16, 1, 1, name="m4_b7dbl_1")
    bd = conv2d_bn(bd, 16, 7, 1, name="m4_b7dbl_2")
    bd = conv2d_bn(bd, 16, 1, 7, name="m4_b7dbl_3")
    bd = conv2d_bn(bd, 16, 7, 1, name="m4_b7dbl_4")
    bd = conv2d_bn(bd, 24, 1, 7, name="m4_b7dbl_5")
    bp = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same",
                                 name="m4_avgpool")(x)
    bp = conv2d_bn(bp, 24, 1, 1, name="m4_bpool")
    x = layers.Concatenate(axis=3, name="mixed4")([b1, b7, bd, bp])

    # mixed 8: reduction with 7x1/1x7
    b3 = conv2d_bn(x, 24, 1, 1, name="m8_b3x3_1")
    b3 = conv2d_bn(b3, 40, 3, 3, strides=(2, 2), padding="valid",
                   name="m8_b3x3_2")
    b7 = conv2d_bn(x, 24, 1, 1, name="m8_b7x7x3_1")
    b7 = conv2d_bn(b7, 24, 1, 7, name="m8_b7x7x3_2")
    b7 = conv2d_bn(b7, 24, 7, 1, name="m8_b7x7x3_3")
    b7 = conv2d_bn(b7, 24, 3, 3, strides=(2, 2), padding="valid",
                   name="m8_b7x7x3_4")
    bp = layers.MaxPooling2D((3, 3), strides=(2, 2), name="m8_maxpool")(x)
    x = layers.Concatenate(axis=3, name="mixed8")([b3, b7, bp])

    # mixed 9: 8x8-type block with 1x3 / 3x1 concatenations
    b1 = conv2d_bn(x, 40, 1, 1, name="m9_b1x1")
    b3 = conv2d_bn(x, 48, 1, 1, name="m9_b3x3")
    b3_1 = conv2d_bn(b3, 48, 1, 3, name="m9_b3x3_1")
    b3_2 = conv2d_bn(b3, 48, 3, 1, name="m9_b3x3_2")
    b3 = layers.Concatenate(axis=3, name="mixed9_0")([b3_1, b3_2])
    bd = conv2d_bn(x, 56, 1, 1, name="m9_b3dbl_1")
    bd = conv2d_bn(bd, 48, 3, 3, name="m9_b3dbl_2")
    bd_1 = conv2d_bn(bd, 48, 1, 3, name="m9_b3dbl_3")
    bd_2 = conv2d_bn(bd, 48, 3, 1, name="m9_b3dbl_4")
    bd = layers.Concatenate(axis=3, name="m9_b3dbl_concat")([bd_1, bd_2])
    bp = layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same",
                                 name="m9_avgpool")(x)
    bp = conv2d_bn(bp, 24, 1, 1, name="m9_bpool")
    x = layers.Concatenate(axis=3, name="mixed9")([b1, b3, bd, bp])

    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(10, activation="softmax", name="predictions")(x)
    m = keras.Model(inp, x, name="inception_v3")
    desc = ("InceptionV3 (compact copy of keras.applications.InceptionV3's "
            "patterns: conv2d_bn = Conv2D(no bias) + BatchNormalization"
            "(scale=False) + relu; valid-padded stem with MaxPooling2D; mixed0 "
            "(1x1 / 5x5 / double 3x3 / AveragePooling2D(3, same) branches), "
            "mixed3 reduction, mixed4 (1x7/7x1), mixed8 reduction, mixed9 "
            "(1x3/3x1 nested concatenations); one block of each kind, widths "
            "about 1/8; input 107x107x3, 10 classes)")
    probes = ["c3", "mixed0", "mixed4", "mixed8", "mixed9", "avg_pool"]
    return m, desc, probes, "mixed9"


def densenet121_compact():
    from keras.src.applications import densenet as D
    m = D.DenseNet([1, 2, 2, 1], include_top=True, weights=None,
                   input_shape=(64, 64, 3), classes=10, name="densenet121")
    desc = ("DenseNet121 (compact: keras.applications' own DenseNet builder "
            "— ZeroPadding2D + 7x7 stem, MaxPooling2D, dense blocks of "
            "BN-relu-1x1-BN-relu-3x3 with Concatenate (growth rate 32), "
            "transition BN-relu-1x1 + AveragePooling2D(2), final BN-relu, "
            "GlobalAveragePooling2D, Dense softmax — with blocks [1,2,2,1] "
            "instead of [6,12,24,16]; input 64x64x3, 10 classes)")
    probes = ["conv1_relu", "conv2_block1_concat", "pool3_pool",
              "conv4_block2_concat", "relu", "avg_pool"]
    return m, desc, probes, "relu"


def xception_compact():
    inp = keras.Input((71, 71, 3), name="input_layer")
    x = layers.Conv2D(8, (3, 3), strides=(2, 2), use_bias=False,
                      name="block1_conv1")(inp)
    x = layers.BatchNormalization(axis=3, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(16, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=3, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)

    def entry_block(x, filters, idx, first_relu):
        residual = layers.Conv2D(filters, (1, 1), strides=(2, 2),
                                 padding="same", use_bias=False)(x)
        residual = layers.BatchNormalization(axis=3)(residual)
        if first_relu:
            x = layers.Activation("relu", name=f"block{idx}_sepconv1_act")(x)
        x = layers.SeparableConv2D(filters, (3, 3), padding="same",
                                   use_bias=False,
                                   name=f"block{idx}_sepconv1")(x)
        x = layers.BatchNormalization(axis=3, name=f"block{idx}_sepconv1_bn")(x)
        x = layers.Activation("relu", name=f"block{idx}_sepconv2_act")(x)
        x = layers.SeparableConv2D(filters, (3, 3), padding="same",
                                   use_bias=False,
                                   name=f"block{idx}_sepconv2")(x)
        x = layers.BatchNormalization(axis=3, name=f"block{idx}_sepconv2_bn")(x)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same",
                                name=f"block{idx}_pool")(x)
        return layers.add([x, residual], name=f"block{idx}_add")

    x = entry_block(x, 16, 2, first_relu=False)
    x = entry_block(x, 32, 3, first_relu=True)
    x = entry_block(x, 64, 4, first_relu=True)

    for i in range(2):  # middle flow (8 blocks in the original)
        residual = x
        prefix = f"block{i + 5}"
        for k in (1, 2, 3):
            x = layers.Activation("relu", name=f"{prefix}_sepconv{k}_act")(x)
            x = layers.SeparableConv2D(64, (3, 3), padding="same",
                                       use_bias=False,
                                       name=f"{prefix}_sepconv{k}")(x)
            x = layers.BatchNormalization(axis=3,
                                          name=f"{prefix}_sepconv{k}_bn")(x)
        x = layers.add([x, residual], name=f"{prefix}_add")

    residual = layers.Conv2D(96, (1, 1), strides=(2, 2), padding="same",
                             use_bias=False)(x)
    residual = layers.BatchNormalization(axis=3)(residual)
    x = layers.Activation("relu", name="block13_sepconv1_act")(x)
    x = layers.SeparableConv2D(64, (3, 3), padding="same", use_bias=False,
                               name="block13_sepconv1")(x)
    x = layers.BatchNormalization(axis=3, name="block13_sepconv1_bn")(x)
    x = layers.Activation("relu", name="block13_sepconv2_act")(x)
    x = layers.SeparableConv2D(96, (3, 3), padding="same", use_bias=False,
                               name="block13_sepconv2")(x)
    x = layers.BatchNormalization(axis=3, name="block13_sepconv2_bn")(x)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same",
                            name="block13_pool")(x)
    x = layers.add([x, residual], name="block13_add")

    x = layers.SeparableConv2D(128, (3, 3), padding="same", use_bias=False,
                               name="block14_sepconv1")(x)
    x = layers.BatchNormalization(axis=3, name="block14_sepconv1_bn")(x)
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = layers.SeparableConv2D(160, (3, 3), padding="same", use_bias=False,
                               name="block14_sepconv2")(x)
    x = layers.BatchNormalization(axis=3, name="block14_sepconv2_bn")(x)
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dense(10, activation="softmax", name="predictions")(x)
    m = keras.Model(inp, x, name="xception")
    desc = ("Xception (compact copy of keras.applications.Xception's "
            "structure: strided Conv2D stem, entry-flow blocks of "
            "SeparableConv2D + BN + relu with MaxPooling2D(3, 2, same) and "
            "1x1 strided Conv2D shortcut added, middle-flow blocks of 3 "
            "relu-SeparableConv2D-BN with identity Add (2 instead of 8), exit "
            "block 13/14, GlobalAveragePooling2D, Dense softmax; widths "
            "about 1/8 to 1/16; input 71x71x3, 10 classes)")
    probes = ["block1_conv1_act", "block2_add", "block4_add", "block6_add",
              "block14_sepconv2_act", "avg_pool"]
    return m, desc, probes, "block14_sepconv2_act"


# (file stem, builder, opset, dynamic batch)
MODELS = [
    ("keras_resnet50_op13", resnet50_compact, 13, False),
    ("keras_vgg16_op17_dynbatch", vgg16_compact, 17, True),
    ("keras_mobilenetv2_op13_dynbatch", mobilenetv2, 13, True),
    ("keras_efficientnetb0_op17", efficientnetb0_compact, 17, False),
    ("keras_inceptionv3_op13", inceptionv3_compact, 13, False),
    ("keras_densenet121_op13", densenet121_compact, 13, False),
    ("keras_xception_op17", xception_compact, 17, False),
]


# --------------------------------------------------------------- helpers ---

def perturb_weights(model, seed=1234):
    """Deterministic non-trivial BN statistics and biases."""
    rng = np.random.RandomState(seed)
    for lay in model.layers:
        if isinstance(lay, layers.BatchNormalization):
            for v in lay.weights:
                name = v.path.split("/")[-1]
                shape = tuple(v.shape)
                if name == "gamma":
                    val = rng.uniform(0.5, 1.5, shape)
                elif name == "beta":
                    val = rng.uniform(-0.2, 0.2, shape)
                elif name == "moving_mean":
                    val = rng.uniform(-0.2, 0.2, shape)
                elif name == "moving_variance":
                    val = rng.uniform(0.5, 1.5, shape)
                else:
                    continue
                v.assign(val.astype(np.float32))
        elif isinstance(lay, (layers.Conv2D, layers.DepthwiseConv2D,
                              layers.SeparableConv2D, layers.Dense)):
            for v in lay.weights:
                if v.path.split("/")[-1] == "bias":
                    v.assign(rng.uniform(-0.1, 0.1, tuple(v.shape))
                             .astype(np.float32))


def make_input(shape):
    n = int(np.prod(shape))
    i = np.arange(n, dtype=np.float64)
    x = ((i * 37 + 11) % 251) / 125 - 1
    return x.astype(np.float32).reshape(shape)


def summarize(arr):
    flat = np.asarray(arr, dtype=np.float64).reshape(-1)
    n = flat.size
    if n >= 16:
        idx = [int(round(k * (n - 1) / 15)) for k in range(16)]
    else:
        idx = list(range(n))
    return {
        "shape": [int(d) for d in arr.shape],
        "sum": float(flat.sum()),
        "abs_sum": float(np.abs(flat).sum()),
        "samples": [[i, float(np.float32(flat[i]))] for i in idx],
    }


def float_tensor_types(model):
    """name -> elem_type for every value with a known type."""
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output) + \
            list(inferred.graph.input):
        types[vi.name] = vi.type.tensor_type.elem_type
    return types


def run_with_extra_outputs(model, feed, names):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    existing = {o.name for o in m.graph.output}
    for n in names:
        if n not in existing:
            m.graph.output.append(
                onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT,
                                                   None))
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 3
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "m.onnx")
        onnx.save(m, p)
        sess = ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
        outs = sess.run(None, feed)
    return {o.name: v for o, v in zip(sess.get_outputs(), outs)}


def match_layout(onnx_val, keras_val):
    """Return (layout, max_abs_diff) of the best match, or (None, inf)."""
    best = (None, math.inf)
    kv = np.asarray(keras_val)
    ov = np.asarray(onnx_val)
    if ov.size != kv.size:
        return best
    cands = []
    if kv.ndim == 4:
        if ov.shape == kv.shape:
            cands.append(("nhwc", ov))
        if ov.ndim == 4 and ov.shape == (kv.shape[0], kv.shape[3], kv.shape[1],
                                         kv.shape[2]):
            cands.append(("nchw", ov.transpose(0, 2, 3, 1)))
    elif ov.shape == kv.shape:
        cands.append(("nc" if kv.ndim == 2 else "as_keras", ov))
    for lay, v in cands:
        d = float(np.max(np.abs(v.astype(np.float64) - kv)))
        if d < best[1]:
            best = (lay, d)
    return best


def layer_candidates(model, layer_name, types):
    """Float node outputs whose tf2onnx name belongs to the Keras layer."""
    keys = (f"/{layer_name}_1/", f"/{layer_name}/")
    out = []
    for node in model.graph.node:
        for o in node.output:
            if any(k in o for k in keys) and \
                    types.get(o) == onnx.TensorProto.FLOAT:
                out.append(o)
    return out


# ------------------------------------------------------------------ main ---

def export_one(stem, builder, opset, dynamic):
    # Make every export independent of what ran before it in this process:
    # Keras' automatic layer names and tf2onnx's generated-name counter are
    # process-global.
    keras.backend.clear_session()
    tf2onnx.utils.INTERNAL_NAME = 1
    keras.utils.set_random_seed(0)
    model, desc, probes, deep = builder()
    perturb_weights(model)
    h, w, c = model.input_shape[1:]
    batch = None if dynamic else 1
    spec = (tf.TensorSpec((batch, h, w, c), tf.float32, name="input"),)
    onnx_model, _ = tf2onnx.convert.from_keras(model, input_signature=spec,
                                               opset=opset)
    path = os.path.join(OUT_DIR, stem + ".onnx")
    onnx.save(onnx_model, path)
    onnx_model = onnx.load(path)

    in_name = onnx_model.graph.input[0].name
    in_shape = [1, h, w, c]
    x = make_input(in_shape)
    feed = {in_name: x}

    # Keras reference: prediction plus the probed layers' outputs.
    probe_model = keras.Model(model.inputs,
                              [model.get_layer(p).output for p in probes])
    keras_probe = [np.asarray(v) for v in probe_model(x, training=False)]
    keras_pred = np.asarray(model(x, training=False))

    types = float_tensor_types(onnx_model)
    cand = {p: layer_candidates(onnx_model, p, types) for p in probes}
    all_names = sorted({n for v in cand.values() for n in v})
    vals = run_with_extra_outputs(onnx_model, feed, all_names)
    graph_output = onnx_model.graph.output[0].name
    ort_pred = vals[graph_output]

    outputs = {graph_output: summarize(ort_pred)}
    chosen = {}
    for p, kv in zip(probes, keras_probe):
        picked = None
        tol = 1e-3 * max(1.0, float(np.max(np.abs(kv))))
        for name in reversed(cand[p]):  # the last tensor of the layer
            lay, d = match_layout(vals[name], kv)
            if lay is not None and d <= tol:
                picked = (name, lay, d)
                break
        if picked is None:
            print(f"  !! {stem}: no ONNX tensor matches Keras layer {p} "
                  f"(candidates {cand[p]})", file=sys.stderr)
            if p == deep:
                raise SystemExit(f"{stem}: deep layer {p} not found")
            continue
        name, lay, d = picked
        chosen[p] = name
        entry = summarize(vals[name])
        entry["layout"] = lay
        outputs[name] = entry
        print(f"  {p:28s} -> {name}  {list(vals[name].shape)} {lay} "
              f"keras diff {d:.2e}")

    diff = float(np.max(np.abs(ort_pred.astype(np.float64) - keras_pred)))
    ops = collections.Counter(
        (f"{n.domain}::{n.op_type}" if n.domain not in ("", "ai.onnx")
         else n.op_type) for n in onnx_model.graph.node)
    opset_v = [o.version for o in onnx_model.opset_import if o.domain in
               ("", "ai.onnx")][0]
    meta = {
        "model": stem + ".onnx",
        "exporter": (f"tf2onnx {tf2onnx.__version__} from Keras "
                     f"{keras.__version__}, TensorFlow {tf.__version__}, "
                     f"opset {opset_v} (tf2onnx.convert.from_keras, default "
                     f"optimizers; batch axis "
                     f"{'dynamic (None)' if dynamic else 'static 1'})"),
        "architecture": desc,
        "onnxruntime_version": ort.__version__,
        "layout": "nhwc",
        "input_name": in_name,
        "input_shape": in_shape,
        "input_rule": INPUT_RULE,
        "outputs": outputs,
        "graph_output": graph_output,
        "deep_layer": chosen[deep],
        "ops": dict(sorted(ops.items())),
        "keras_vs_onnxruntime_max_abs_diff": diff,
    }
    with open(os.path.join(OUT_DIR, stem + ".json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    size = os.path.getsize(path)
    print(f"{stem}: {size} bytes, params {model.count_params()}, "
          f"keras vs ort {diff:.2e}, ops {dict(ops)}")
    return meta


def main():
    only = set(sys.argv[1:])
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, tf2onnx "
          f"{tf2onnx.__version__}, onnx {onnx.__version__}, onnxruntime "
          f"{ort.__version__}, numpy {np.__version__}")
    for stem, builder, opset, dynamic in MODELS:
        if only and not any(o in stem for o in only):
            continue
        export_one(stem, builder, opset, dynamic)


if __name__ == "__main__":
    main()
