"""Typed configs (kokoro_lab.schemas): every config composes onto its schema with each group
option, a key no schema defines fails naming it (with or without `+`, through the real
scripts), defaults live in one place, and lr_scales prefixes with dots survive Hydra."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from conftest import ROOT, compose_config, run_script
from hydra.utils import instantiate
from omegaconf import OmegaConf

from kokoro_lab.config import KokoroConfig
from kokoro_lab.errors import UserValueError
from kokoro_lab.hydra_configs import model_config, model_config_from
from kokoro_lab.schemas import SCHEMAS, UnknownKeyError
from kokoro_lab.schemas.train import LossWeights, Optim, Schedule
from kokoro_lab.tasks.entries import entry

CONFIGS = ROOT / "configs"


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIGS / group).glob("*.yaml"))


# --- every config composes ------------------------------------------------------------------


def test_every_root_config_has_a_schema_first_in_its_defaults():
    roots = sorted(p.stem for p in CONFIGS.glob("*.yaml"))
    assert roots == sorted(SCHEMAS)
    for name in roots:
        defaults = OmegaConf.load(CONFIGS / f"{name}.yaml").defaults
        assert defaults[0] == f"{name}_schema", name


#: Root config -> the overrides each of its groups' options is composed with.
GROUP_OPTIONS = [
    ("train", f"{group}={option}")
    for group in ("data", "model", "trainer", "logger", "callbacks", "experiment", "debug")
    for option in options(group)
] + [
    (root, f"{group}={option}")
    for root, groups in {
        "eval": ("model", "logger"),
        "finetune_voice": ("model", "logger"),
        "infer": ("model",),
        "count_params": ("model",),
        "export_checkpoint": ("model",),
    }.items()
    for group in groups
    for option in options(group)
]


@pytest.mark.parametrize(("root", "override"), GROUP_OPTIONS)
def test_each_group_option_composes_and_validates(root, override):
    extra = {"export_checkpoint": ["output=x.pth"], "train": ["data_dir=/d", "run_dir=/r"]}
    cfg = compose_config(root, override, *extra.get(root, []))
    group, option = override.split("=")
    if group == "model":
        assert model_config_from(cfg.model) == model_config(option)


def test_every_root_config_composes_with_its_defaults():
    for name in SCHEMAS:
        compose_config(name)


def test_every_catalogue_voice_fits_the_voice_schema():
    """Each configs/voice/NAME.yaml merged onto the schema as +voice=NAME merges it (one full
    composition per voice would cost half a second each)."""
    from kokoro_lab.schemas.store import schema_node
    from kokoro_lab.schemas.validate import check_keys
    from kokoro_lab.schemas.voice import VoiceConfig

    for voice in options("voice"):
        entry_ = OmegaConf.load(CONFIGS / "voice" / f"{voice}.yaml")
        check_keys(OmegaConf.to_container(entry_), VoiceConfig)
        assert OmegaConf.merge(schema_node(VoiceConfig), entry_).name == voice


@pytest.mark.parametrize("root", ["infer", "phonemize"])
def test_a_catalogue_voice_composes(root):
    assert compose_config(root, "+voice=af").voice.blend == ["af_bella", "af_sarah"]


def test_the_task_gets_the_values_and_interpolations_of_the_yaml():
    cfg = compose_config("train", "experiment=tiny_overfit", "run_dir=/runs/a")
    assert model_config_from(cfg.model) == model_config("tiny")
    assert cfg.modules.style_encoder.style_dim == cfg.model.style_dim == 16
    assert cfg.data.seed == cfg.seed and cfg.output_dir == "/runs/a"
    assert OmegaConf.to_container(cfg.training.optim.lr_scales) == {"bert": 1.0}
    assert cfg.training.schedule.joint_start == 700
    assert OmegaConf.to_container(cfg.training.loss_weights) == dataclasses.asdict(LossWeights())
    assert model_config_from(compose_config("infer").model) == KokoroConfig()


# --- one source per default -----------------------------------------------------------------


def _leaves(tree, path=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{path}{key}.")
    else:
        yield path[:-1], tree


def _default(schema, dotted: str):
    node = schema()
    for part in dotted.split("."):
        if not dataclasses.is_dataclass(node) or part not in {
            f.name for f in dataclasses.fields(node)
        }:
            return dataclasses.MISSING  # an open mapping (modules, trainer, ...): no default
        node = getattr(node, part)
    return node


def test_yaml_files_hold_no_copy_of_a_schema_default():
    """A value in a root config, an experiment or a model file that equals the schema's
    default is a second source for it."""
    files = [(CONFIGS / f"{name}.yaml", SCHEMAS[name]) for name in SCHEMAS]
    files += [(p, SCHEMAS["train"]) for p in (CONFIGS / "experiment").glob("*.yaml")]
    files += [(p, None) for p in (CONFIGS / "model").glob("*.yaml")]
    copies = []
    for path, schema in files:
        tree = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        tree.pop("defaults", None)
        tree.pop("hydra", None)
        for key, value in _leaves(tree):
            default = _default(KokoroConfig, key) if schema is None else _default(schema, key)
            if isinstance(default, tuple):
                default = [list(x) if isinstance(x, tuple) else x for x in default]
            if default is not dataclasses.MISSING and value == default:
                copies.append(f"{path.relative_to(ROOT)}: {key}")
    # finetune.yaml restates lr and aligner_warmup/bin_loss_start beside the values it changes
    # (its recipe table in docs/training.md reads from there)
    allowed = {
        "configs/experiment/finetune.yaml: training.optim.lr",
        "configs/experiment/finetune.yaml: training.schedule.aligner_warmup",
        "configs/experiment/finetune.yaml: training.schedule.bin_loss_start",
        "configs/experiment/finetune.yaml: init",
    }
    assert sorted(set(copies) - allowed) == []


def test_instantiated_group_files_agree_with_their_targets_defaults():
    """The `_target_` groups (data, ...) list every argument a user may set without `+`
    (Hydra's struct mode needs the key present), so their values restate the class's
    defaults: they must be the same values, or the yaml and a Python caller would differ."""
    import inspect

    from hydra.utils import get_object

    disagree = []
    for path in [CONFIGS / "data" / "default.yaml"]:  # the other data options are presets
        node = OmegaConf.to_container(OmegaConf.load(path), resolve=False)
        params = inspect.signature(get_object(node.pop("_target_"))).parameters
        for key, value in node.items():
            default = params[key].default
            if isinstance(value, str) and value.startswith("${"):
                continue  # interpolated from the root config (data_dir, seed, ...)
            if isinstance(default, tuple):
                default = list(default)
            if value != default and not (value == {} and default is None):
                disagree.append(f"{path.name}: {key}={value!r}, the class says {default!r}")
    assert disagree == []


def test_kokoro_training_defaults_are_the_schema_and_unknown_keys_fail():
    from kokoro_lab.lightning.training import KokoroTraining
    from kokoro_lab.model import KokoroModel

    cfg = compose_config("train", "experiment=tiny_overfit", "run_dir=/r")
    modules = {k: instantiate(v) for k, v in cfg.modules.items()}
    module = KokoroTraining(KokoroModel(model_config("tiny")), **modules)
    assert module.schedule == dataclasses.asdict(Schedule())
    assert module.schedule["joint_start"] == compose_config("train").training.schedule.joint_start
    assert module.optim == dataclasses.asdict(Optim())
    for argument, key in [
        ("loss_weights", "mell"),
        ("schedule", "joint_strat"),
        ("optim", "learning_rate"),
        ("alignment", "sorce"),
    ]:
        with pytest.raises(UserValueError, match=rf"'{argument}\.{key}'"):
            KokoroTraining(KokoroModel(model_config("tiny")), **modules, **{argument: {key: 1}})


# --- unknown keys and bad values ------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named", "suggested"),
    [
        (["+training.loss_weights.mell=1"], "training.loss_weights.mell", "loss_weights.mel"),
        (["training.loss_weights.mell=1"], "training.loss_weights.mell", "loss_weights.mel"),
        (["+training.schedule.joint_strat=5"], "training.schedule.joint_strat", "joint_start"),
        (["training.schedule.joint_strat=5"], "training.schedule.joint_strat", "joint_start"),
        (["+traning.seed=1"], "traning", "'training'"),
        (["+model.albert.hiden_size=3"], "model.albert.hiden_size", "hidden_size"),
        (["trainer.max_stepz=3"], "trainer.max_stepz", "trainer.max_steps"),
        (["+trainer.max_stepz=3"], "trainer.max_stepz", "trainer.max_steps"),
        (["+data.batch_sise=3"], "data.batch_sise", "data.batch_size"),
        (["modules.aligner.chanels=3"], "modules.aligner.chanels", "modules.aligner.channels"),
        (["logger=csv", "+logger.save_dri=x"], "logger.save_dri", "logger.save_dir"),
        (
            ["+callbacks.model_checkpoint.every_n=3"],
            "callbacks.model_checkpoint.every_n",
            "every_n_",
        ),
    ],
)
def test_an_unknown_train_key_is_named_with_the_closest(overrides, named, suggested):
    with pytest.raises(UnknownKeyError) as err:
        compose_config("train", *overrides)
    assert f"'{named}'" in str(err.value) and suggested in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("root", "override", "key"),
    [
        ("infer", "speed=abc", "speed"),
        ("infer", "lines=maybe", "lines"),
        ("train", "training.schedule.joint_start=soon", "training.schedule.joint_start"),
        ("train", "training.optim.lr_scales.bert=fast", "training.optim.lr_scales.bert"),
        ("train", "model.hidden_dim=wide", "model.hidden_dim"),
    ],
)
def test_a_wrong_type_is_a_user_error_naming_the_key(root, override, key):
    with pytest.raises(UserValueError, match=f"'{key}'"):
        compose_config(root, override)


def test_an_unknown_group_option_lists_the_options():
    with pytest.raises(UserValueError, match=r"'model/tni'.*kokoro_v1, tiny"):
        compose_config("infer", "model=tni")


#: Every command: its config, and one key it does not take.
COMMANDS = {
    "infer": "spede",
    "phonemize": "texts",
    "train": "training.loss_weights.mell",
    "evaluate": "num_sentence",
    "finetune_voice": "weights.mell",
    "benchmark": "repeat",
    "count_params": "modle",
    "export_checkpoint": "outptu",
}


@pytest.mark.parametrize("plus", ["", "+"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_refuses_an_unknown_key_in_one_line(command, plus, capsys):
    """In process, as `python -m kokoro_lab COMMAND` runs it: exit 2 before any task runs."""
    key = COMMANDS[command]
    with pytest.raises(SystemExit) as exit_:
        entry(command)([f"{plus}{key}=1"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: unknown config key '{key}'"), err


@pytest.mark.parametrize(
    ("script", "override", "key"),
    [
        ("infer.py", "spede=1.2", "spede"),
        ("infer.py", "+spede=1.2", "spede"),
        ("infer.py", "speed=abc", "speed"),
        ("train.py", "+training.loss_weights.mell=1", "training.loss_weights.mell"),
        pytest.param(
            "train.py",
            "training.schedule.joint_strat=5",
            "training.schedule.joint_strat",
            marks=pytest.mark.slow,  # ~5 s: the train command imports Lightning
        ),
    ],
)
def test_the_scripts_refuse_a_bad_key_in_one_line(script, override, key, tmp_path):
    proc = run_script(script, override, f"hydra.run.dir={tmp_path / 'run'}", timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and f"'{key}'" in lines[0]
    assert not (tmp_path / "run").exists()  # refused before Hydra made the run directory


# --- lr_scales: prefixes with dots ----------------------------------------------------------


def test_lr_scales_with_dots_round_trip_through_hydra_into_the_optimizer():
    from kokoro_lab.lightning.training import KokoroTraining
    from kokoro_lab.model import KokoroModel

    cfg = compose_config(
        "train",
        "experiment=tiny_overfit",
        "run_dir=/r",
        "training.optim.lr_scales={predictor.F0: 0.5, style_encoder.unshared.bias: 30}",
        "+training.optim.lr_scales.decoder=0.25",
    )
    scales = OmegaConf.to_container(cfg.training.optim.lr_scales)
    assert scales == {
        "bert": 1.0,
        "predictor.F0": 0.5,
        "style_encoder.unshared.bias": 30.0,
        "decoder": 0.25,
    }
    modules = {k: instantiate(v) for k, v in cfg.modules.items()}
    training = OmegaConf.to_container(cfg.training, resolve=True)
    module = KokoroTraining(KokoroModel(model_config("tiny")), **modules, **training)
    (g_opt, *_), _ = module.configure_optimizers()
    lr_of = {id(p): group["lr"] for group in g_opt.param_groups for p in group["params"]}
    lr = cfg.training.optim.lr
    f0 = next(iter(module.model.predictor.F0.parameters()))
    assert lr_of[id(f0)] == pytest.approx(0.5 * lr)
    assert lr_of[id(module.style_encoder.unshared.bias)] == pytest.approx(30 * lr)
    assert lr_of[id(module.model.decoder.F0_conv.weight_v)] == pytest.approx(0.25 * lr)


def test_lr_scales_dotted_path_fails_with_the_spelling():
    with pytest.raises(UserValueError, match=r"lr_scales=\{predictor\.F0: 0\.5\}"):
        compose_config("train", "+training.optim.lr_scales.predictor.F0=0.5")


def test_an_lr_scale_matching_no_parameter_is_named():
    from kokoro_lab.lightning.training import KokoroTraining
    from kokoro_lab.model import KokoroModel

    cfg = compose_config("train", "experiment=tiny_overfit", "run_dir=/r")
    modules = {k: instantiate(v) for k, v in cfg.modules.items()}
    module = KokoroTraining(
        KokoroModel(model_config("tiny")), **modules, optim={"lr_scales": {"predictor.F9": 2}}
    )
    with pytest.raises(UserValueError, match=r"predictor\.F9"):
        module.configure_optimizers()


def test_the_docs_spell_lr_scales_as_tested():
    spelled = "'training.optim.lr_scales={predictor.F0: 0.5}'"
    for doc in ("configs/train.yaml", "docs/training.md"):
        assert spelled in Path(ROOT / doc).read_text(), doc
