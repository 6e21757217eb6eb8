"""Voicepacks on the real embedded packs; catalogue resolution offline; Hydra +voice=NAME."""

from __future__ import annotations

import huggingface_hub.constants
import pytest
import torch
from conftest import compose_config

from kokoro_lab.hub import EMBEDDED_VOICES
from kokoro_lab.text.g2p import LANG_CODES
from kokoro_lab.voices import (
    DECODER_HALF,
    PROSODY_HALF,
    VoicePack,
    load_catalogue,
    load_voice,
)

V1_VOICES = set(
    "af_alloy af_aoede af_bella af_heart af_jessica af_kore af_nicole af_nova af_river af_sarah "
    "af_sky am_adam am_echo am_eric am_fenrir am_liam am_michael am_onyx am_puck am_santa "
    "bf_alice bf_emma bf_isabella bf_lily bm_daniel bm_fable bm_george bm_lewis ef_dora em_alex "
    "em_santa ff_siwis hf_alpha hf_beta hm_omega hm_psi if_sara im_nicola jf_alpha jf_gongitsune "
    "jf_nezumi jf_tebukuro jm_kumo pf_dora pm_alex pm_santa zf_xiaobei zf_xiaoni zf_xiaoxiao "
    "zf_xiaoyi zm_yunjian zm_yunxi zm_yunxia zm_yunyang".split()
)
V019_VOICES = set(
    "af af_bella af_sarah am_adam am_michael bf_emma bf_isabella bm_george bm_lewis af_nicole "
    "af_sky".split()
)


# VoicePack --------------------------------------------------------------------------------------


def test_embedded_voices_load_offline(no_hub):
    for name in EMBEDDED_VOICES:
        pack = load_voice(name)
        assert pack.name == name and pack.release == "v1.0" and pack.lang == "ja"
        assert pack.pack.shape == (510, 1, 256) and pack.pack.dtype == torch.float32


@pytest.mark.parametrize("shape", [(509, 1, 256), (510, 256), (510, 1, 128), (510, 2, 256)])
def test_wrong_shape_is_rejected(shape):
    with pytest.raises(ValueError, match=r"expected \[510, 1, 256\]"):
        VoicePack(torch.zeros(shape), "bad")


def test_non_finite_values_are_rejected(alpha):
    broken = alpha.pack.clone()
    broken[3, 0, 7] = float("nan")
    with pytest.raises(ValueError, match="'broken' contains 1 NaN and 0 infinite"):
        VoicePack(broken, "broken")
    broken[4, 0, 1] = float("inf")
    with pytest.raises(ValueError, match="1 NaN and 1 infinite"):
        VoicePack(broken, "broken")


def test_select_is_the_official_row(alpha):
    for n in (1, 2, 37, 509, 510):
        assert torch.equal(alpha.select(n), alpha.pack[n - 1])  # official pack[len(ps) - 1]
    assert alpha.select(12).shape == (1, 256)
    for n in (0, 511):
        with pytest.raises(ValueError, match=rf"num_tokens={n} is outside 1\.\.510"):
            alpha.select(n)


def test_v019_pack_uses_its_own_row(alpha):
    v019 = VoicePack(torch.cat([alpha.pack[:1], alpha.pack]), "old")  # 511 rows
    assert v019.release == "v0.19"
    assert torch.equal(v019.select(5), v019.pack[5])  # v0.19 kokoro.py: voicepack[len(tokens)]


def test_style_halves(alpha):
    decoder, prosody = alpha.style_halves(20)
    row = alpha.pack[19]
    assert torch.equal(decoder, row[:, :128]) and torch.equal(prosody, row[:, 128:])
    assert DECODER_HALF == slice(0, 128) and PROSODY_HALF == slice(128, 256)


def test_blend_equals_official_mean(alpha, kumo):
    blended = VoicePack.blend([alpha, kumo])
    assert torch.equal(blended.pack, torch.mean(torch.stack([alpha.pack, kumo.pack]), dim=0))
    same = VoicePack.blend([alpha, kumo], weights=[2.0, 2.0])
    assert torch.equal(same.pack, blended.pack)
    weighted = VoicePack.blend([alpha, kumo], weights=[3, 1])
    assert torch.allclose(weighted.pack, 0.75 * alpha.pack + 0.25 * kumo.pack, atol=1e-6)


def test_blend_rejects_bad_input(alpha):
    old = VoicePack(torch.cat([alpha.pack[:1], alpha.pack]), "old")
    with pytest.raises(ValueError, match="different shapes"):
        VoicePack.blend([alpha, old])
    with pytest.raises(ValueError, match="one per voicepack"):
        VoicePack.blend([alpha, alpha], weights=[1.0])
    with pytest.raises(ValueError, match="sum to 0"):
        VoicePack.blend([alpha, alpha], weights=[0, 0.0])
    with pytest.raises(ValueError, match="at least one"):
        VoicePack.blend([])


def test_save_load_round_trip_official_format(alpha, tmp_path):
    path = alpha.save(tmp_path / "jf_alpha.pt")
    raw = torch.load(path, weights_only=True)
    assert type(raw) is torch.Tensor and torch.equal(raw, alpha.pack)
    again = VoicePack.load(path)
    assert again.name == "jf_alpha" and torch.equal(again.pack, alpha.pack)


def test_save_into_missing_directory_leaves_nothing(alpha, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        alpha.save(tmp_path / "missing" / "voice.pt")
    assert list(tmp_path.iterdir()) == []


def test_load_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        VoicePack.load(tmp_path / "nope.pt")
    torch.save({"not": torch.zeros(1)}, tmp_path / "dict.pt")
    with pytest.raises(ValueError, match="holds a dict"):
        VoicePack.load(tmp_path / "dict.pt")


# load_voice -------------------------------------------------------------------------------------


def test_hub_voice_offline_says_what_is_missing_and_how_to_pass_it(no_hub):
    with pytest.raises(FileNotFoundError) as info:
        load_voice("af_bella")
    message = str(info.value)
    assert "af_bella.pt" in message and "voices_dir" in message and "voice_path" in message
    assert "HF_HUB_OFFLINE" in message and "\n" not in message


def test_unreachable_hub_fails_fast(monkeypatch, tmp_path):
    """Not offline, but nothing listens at the endpoint: no minute of retries. The message is
    the TCP probe's (kokoro_lab.hub._unreachable), raised before huggingface_hub's retry loop
    is entered; no wall-clock bound, which a loaded machine could break."""
    for key in ("HF_HUB_OFFLINE", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(FileNotFoundError, match="unreachable.*127.0.0.1:9"):
        load_voice("af_sarah")


def test_hub_voice_from_voices_dir(no_hub, alpha, tmp_path):
    alpha.save(tmp_path / "af_bella.pt")
    bella = load_voice("af_bella", voices_dir=tmp_path)
    assert bella.name == "af_bella" and bella.lang == "en-us"
    assert torch.equal(bella.pack, alpha.pack)
    by_file = load_voice("af_bella", voice_path=tmp_path / "af_bella.pt")
    assert by_file.name == "af_bella" and torch.equal(by_file.pack, alpha.pack)
    assert torch.equal(load_voice(tmp_path / "af_bella.pt").pack, alpha.pack)


def test_missing_file_in_voices_dir_mentions_it(no_hub, tmp_path):
    with pytest.raises(FileNotFoundError, match="nor in voices_dir"):
        load_voice("am_adam", voices_dir=tmp_path)


def test_unknown_voice_lists_known_ones():
    with pytest.raises(ValueError, match=r"unknown voice 'af_nobody'.*af_bella.*jf_alpha"):
        load_voice("af_nobody")


def test_v019_af_blend_resolves_from_voices_dir(no_hub, alpha, kumo, tmp_path):
    alpha.save(tmp_path / "af_bella.pt")
    kumo.save(tmp_path / "af_sarah.pt")
    af = load_voice("af", voices_dir=tmp_path)
    assert af.name == "af" and af.lang == "en-us"
    assert torch.equal(af.pack, torch.mean(torch.stack([alpha.pack, kumo.pack]), dim=0))
    ad_hoc = load_voice("af_bella,af_sarah", voices_dir=tmp_path)  # KPipeline's "a,b" syntax
    assert torch.equal(ad_hoc.pack, af.pack)


def test_circular_blend_is_reported(tmp_path):
    (tmp_path / "x.yaml").write_text("name: x\nsource: blend\nblend: [y]\n")
    (tmp_path / "y.yaml").write_text("name: y\nsource: blend\nblend: [x]\n")
    with pytest.raises(ValueError, match="circular: x -> y -> x"):
        load_voice("x", catalogue=load_catalogue(tmp_path))


# Catalogue --------------------------------------------------------------------------------------


def test_catalogue_has_every_official_voice():
    catalogue = load_catalogue()
    assert set(catalogue) == V1_VOICES | V019_VOICES
    assert len(V1_VOICES) == 54
    embedded = {n for n, e in catalogue.items() if e["source"] == "embedded"}
    assert embedded == set(EMBEDDED_VOICES)
    assert catalogue["af"]["blend"] == ["af_bella", "af_sarah"]
    for name, entry in catalogue.items():
        if entry["source"] == "hub":
            assert entry["filename"] == f"voices/{name}.pt"
            assert entry["repo_id"] == "hexgrad/Kokoro-82M"
            assert entry["lang"] == LANG_CODES[name[0]]
        if entry["source"] == "embedded":
            assert entry["lang"] == "ja"  # +voice=jf_alpha alone speaks Japanese
            assert entry["english_g2p"] in ("misaki", "espeak", "espeak-ipa")
        assert ("v1.0" in entry["versions"]) == (name in V1_VOICES)
        assert ("v0.19" in entry["versions"]) == (name in V019_VOICES)


def test_catalogue_rejects_inconsistent_files(tmp_path):
    (tmp_path / "a.yaml").write_text("name: b\nsource: hub\n")
    with pytest.raises(ValueError, match="name 'b' differs"):
        load_catalogue(tmp_path)


@pytest.mark.parametrize("name", ["af", "af_bella", "jf_alpha", "zm_yunyang"])
def test_hydra_plus_voice_selects_the_file(name):
    cfg = compose_config(None, f"+voice={name}")  # configs/voice/NAME.yaml alone
    assert cfg.voice.name == name
    assert cfg.voice.source in ("hub", "embedded", "blend")
