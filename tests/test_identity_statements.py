"""The identities of conv2d and pooling as printed (text and LaTeX), one configuration per
option that changes them, written out by hand from the textbook forms: δ spread by the stride,
padded by k − 1 (and q more zeros after it where the stride leaves input rows unread),
correlated with the rotated (dilated) kernel, summed over the output channels, cropped by the
padding; the weight's gradient as the (padded) input correlated with δ, kept at the kernel's
taps; pooling's δ handed back to the first maximum or shared by the window's cells."""

from __future__ import annotations

import pytest

import symcnn
from symcnn import AvgPool2d, Conv2d, MaxPool2d

A = r"\frac{\partial E}{\partial "  # the left-hand side, up to the name
CASES = [
    (
        dict(kernel=2, input=(3, 3)),
        ["∂E/∂a = pad_(k−1)(δ) ⋆ rot180(w)", "∂E/∂w = a ⋆ δ", "∂E/∂b = Σ_ij δ_ij"],
        [A + r"a} = \operatorname{pad}_{k-1}(\delta) \star \operatorname{rot180}(w)",
         A + r"w} = a \star \delta", A + r"b} = \sum_{i,j} \delta_{ij}"],
    ),
    (  # every option at once, and a stride that leaves the last input row and column unread
        dict(kernel=2, out_channels=2, stride=2, padding=1, dilation=2, input=(2, 6, 6)),
        ["∂E/∂a_c = crop_p(Σ_o pad_(k−1,k−1+q)(spread_s(δ_o)) ⋆ rot180(dil_d(w_o,c)))",
         "∂E/∂w_o,c = keep_(k,d)(pad_p(a_c) ⋆ spread_s(δ_o))", "∂E/∂b_o = Σ_ij δ_o,ij"],
        [A + r"a^{(c)}} = \operatorname{crop}_{p}\Big(\sum_{o} \operatorname{pad}_{k-1,\,k-1+q}"
         r"(\operatorname{spread}_{s}(\delta^{(o)})) \star \operatorname{rot180}"
         r"(\operatorname{dil}_{d}(w^{(o,c)}))\Big)",
         A + r"w^{(o,c)}} = \operatorname{keep}_{k,d}\big(\operatorname{pad}_{p}(a^{(c)}) \star "
         r"\operatorname{spread}_{s}(\delta^{(o)})\big)",
         A + r"b^{(o)}} = \sum_{i,j} \delta^{(o)}_{ij}"],
    ),
    (
        dict(kernel=(2, 3), in_channels=4, out_channels=2, groups=2, stride=(1, 2),
             input=(4, 5, 5), bias="untied"),
        ["∂E/∂a_c = Σ_o pad_(k−1)(spread_s(δ_o)) ⋆ rot180(w_o,c), group by group (the 2 groups "
         "side by side)",
         "∂E/∂w_o,c = a_c ⋆ spread_s(δ_o), group by group (the 2 groups side by side)",
         "∂E/∂b_o,ij = δ_o,ij"],
        [A + r"a^{(c)}} = \sum_{o} \operatorname{pad}_{k-1}(\operatorname{spread}_{s}"
         r"(\delta^{(o)})) \star \operatorname{rot180}(w^{(o,c)})\qquad (g = 1, \dots, G)",
         A + r"w^{(o,c)}} = a^{(c)} \star \operatorname{spread}_{s}(\delta^{(o)})\qquad "
         r"(g = 1, \dots, G)",
         A + r"b^{(o)}_{ij}} = \delta^{(o)}_{ij}"],
    ),
    (  # 6 = 2·2 + 2: the last row and column are read by no window
        dict(kernel=3, stride=2, input=(6, 6), bias="none"),
        ["∂E/∂a = pad_(k−1,k−1+q)(spread_s(δ)) ⋆ rot180(w)",
         "∂E/∂w = keep_(k,d)(a ⋆ spread_s(δ))"],
        [A + r"a} = \operatorname{pad}_{k-1,\,k-1+q}(\operatorname{spread}_{s}(\delta)) \star "
         r"\operatorname{rot180}(w)",
         A + r"w} = \operatorname{keep}_{k,d}\big(a \star \operatorname{spread}_{s}(\delta)\big)"],
    ),
    (
        dict(kernel=2, out_channels=3, input=(3, 3)),
        ["∂E/∂a = Σ_o pad_(k−1)(δ_o) ⋆ rot180(w_o)", "∂E/∂w_o = a ⋆ δ_o",
         "∂E/∂b_o = Σ_ij δ_o,ij"],
        [A + r"a} = \sum_{o} \operatorname{pad}_{k-1}(\delta^{(o)}) \star "
         r"\operatorname{rot180}(w^{(o)})",
         A + r"w^{(o)}} = a \star \delta^{(o)}", A + r"b^{(o)}} = \sum_{i,j} \delta^{(o)}_{ij}"],
    ),
    (
        dict(kernel=2, in_channels=2, input=(2, 3, 3), dilation=(1, 2)),
        ["∂E/∂a_c = pad_(k−1)(δ) ⋆ rot180(dil_d(w_c))", "∂E/∂w_c = keep_(k,d)(a_c ⋆ δ)",
         "∂E/∂b = Σ_ij δ_ij"],
        [A + r"a^{(c)}} = \operatorname{pad}_{k-1}(\delta) \star "
         r"\operatorname{rot180}(\operatorname{dil}_{d}(w^{(c)}))",
         A + r"w^{(c)}} = \operatorname{keep}_{k,d}\big(a^{(c)} \star \delta\big)",
         A + r"b} = \sum_{i,j} \delta_{ij}"],
    ),
]  # fmt: skip


IDS = ["plain", "every-option", "groups-untied", "stride-unread", "3-out", "dilation"]


@pytest.mark.parametrize(("options", "text", "latex"), CASES, ids=IDS)
def test_the_identities_read_as_the_textbook_forms_and_are_proven(options, text, latex) -> None:
    d = symcnn.derive(Conv2d(**options))
    per_group = ", per group" if options.get("groups", 1) > 1 else ""
    names = [
        "input gradient: full convolution with the rotated kernel" + per_group,
        "weight gradient: correlation of the input with δ" + per_group,
        "bias gradient: δ itself (untied bias)" if options.get("bias") == "untied"
        else "bias gradient: sum of δ",
    ]  # fmt: skip
    assert [p.name for p in d.identities] == names[: len(text)]  # as the JSON output has them
    assert [p.statement for p in d.identities] == text
    assert [p.latex for p in d.identities] == latex
    assert all(p.proven for p in d.identities)


UP = r"\operatorname{up}"
POOL = [
    (
        MaxPool2d(window=2, input=(4, 4)),
        "∂E/∂a = up(δ) ⊙ M  (M: 1 at the first maximum of each window)",
        A + r"a} = " + UP + r"(\delta) \odot M",
    ),
    (
        MaxPool2d(window=2, input=(2, 4, 4)),
        "∂E/∂a_c = up(δ_c) ⊙ M  (M: 1 at the first maximum of each window)",
        A + r"a^{(c)}} = " + UP + r"(\delta^{(c)}) \odot M",
    ),
    (  # overlapping windows: a cell gets the δ of every window whose first maximum it is
        MaxPool2d(window=2, stride=1, input=(2, 3, 3)),
        "∂E/∂a_c,uv = Σ_ij δ_c,ij · [a_c,uv = argmax of window ij]",
        A + r"a^{(c)}_{uv}} = \sum_{i,j} \delta^{(c)}_{ij}\left[a^{(c)}_{uv} = "
        r"\operatorname{argmax} \mathcal{W}_{ij}\right]",
    ),
    (  # windows that leave the last column out do not tile either
        MaxPool2d(window=2, input=(4, 5)),
        "∂E/∂a_uv = Σ_ij δ_ij · [a_uv = argmax of window ij]",
        A + r"a_{uv}} = \sum_{i,j} \delta_{ij}\left[a_{uv} = \operatorname{argmax} "
        r"\mathcal{W}_{ij}\right]",
    ),
    (
        AvgPool2d(window=2, input=(3, 4, 4)),
        "∂E/∂a_c = up(δ_c)/4",
        A + r"a^{(c)}} = \tfrac{1}{4} " + UP + r"(\delta^{(c)})",
    ),
    (
        AvgPool2d(window=(2, 3), stride=(1, 2), input=(3, 5)),
        "∂E/∂a_uv = Σ over the windows ij holding a_uv of δ_ij/6",
        A + r"a_{uv}} = \tfrac{1}{6}\sum_{(i,j)\,:\,a_{uv} \in \mathcal{W}_{ij}} \delta_{ij}",
    ),
]


@pytest.mark.parametrize(
    ("layer", "text", "latex"),
    POOL,
    ids=["max-tiles", "max-channels", "max-overlap", "max-cut", "avg-tiles", "avg-overlap"],
)
def test_a_poolings_identity_reads_as_written_by_hand_and_is_proven(layer, text, latex) -> None:
    (proof,) = symcnn.derive(layer).identities
    assert (proof.statement, proof.latex, proof.proven) == (text, latex, True)
    assert proof.name == (
        "max pooling: δ routed to the first maximum of each window"
        if isinstance(layer, MaxPool2d)
        else "average pooling: δ upsampled over each window, divided by its size"
    )
