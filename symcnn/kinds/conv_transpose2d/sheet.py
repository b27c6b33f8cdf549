"""What a sheet prints for conv_transpose2d beyond its formulas: NumPy code, operators, facts."""

from __future__ import annotations

from typing import Any

from ...core.symbols import Role
from ..base import NumpyCode
from .spec import ConvTranspose2dSpec


class ConvTranspose2dSheet(ConvTranspose2dSpec):
    """What a sheet prints for a transposed convolution beyond its formulas."""

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """The gradients with SciPy's ``correlate2d``: δ (padded) against the kernel, no
        rotation, every s-th entry; the kernel's from δ against the input spread by the stride.

        Example:
            >>> from symcnn import ConvTranspose2d
            >>> print(ConvTranspose2d(kernel=2, stride=2, input=(2, 2)).numpy_code(Role.INPUT).text)
            grad_a = correlate2d(delta, w, mode="valid")[:3:2, :3:2]
        """
        planar = self.input_shape[0] == self.out_channels == 1
        (s1, s2), (p1, p2), (d1, d2), (k1, k2) = (
            self.stride,
            self.padding,
            self.dilation,
            self.kernel,
        )
        (h, w) = self.spatial
        ch = "" if planar else ":, "
        lines: list[str] = []
        d = "delta"
        if any(self.padding):
            pads = (
                f"({p1}, {p1}), ({p2}, {p2})" if planar else f"(0, 0), ({p1}, {p1}), ({p2}, {p2})"
            )
            lines.append(f"dp = np.pad(delta, ({pads}))")
            d = "dp"
        if role is Role.BIAS:
            return self.bias_code(planar)
        if role is Role.INPUT:
            kernel = "w"
            if self.dilation != (1, 1):
                kshape = f"{(k1 - 1) * d1 + 1}, {(k2 - 1) * d2 + 1}"
                lead = "" if planar else f"{self.input_shape[0]}, {self.out_channels}, "
                lines.append(f"wd = np.zeros(({lead}{kshape})); wd[{ch}{ch}::{d1}, ::{d2}] = w")
                kernel = "wd"
            every = (
                f"[{ch}:{(h - 1) * s1 + 1}:{s1}, :{(w - 1) * s2 + 1}:{s2}]"
                if (s1, s2) != (1, 1)
                else ""
            )
            if planar:
                lines.append(f'grad_a = correlate2d({d}, {kernel}, mode="valid"){every}')
            else:
                lines.append(
                    f'grad_a = np.array([sum(correlate2d({d}[o], {kernel}[c, o], mode="valid")\n'
                    f"                       for o in range({self.out_channels}))\n"
                    f"                   for c in range({self.input_shape[0]})]){every}"
                )
            return NumpyCode("\n".join(lines), planar)
        if role is not Role.WEIGHT:
            return None
        a = "a"
        if (s1, s2) != (1, 1):
            lead = "" if planar else f"{self.input_shape[0]}, "
            lines.append(
                f"as_ = np.zeros(({lead}{(h - 1) * s1 + 1}, {(w - 1) * s2 + 1})); as_[{ch}::{s1}, ::{s2}] = a"
            )
            a = "as_"
        if planar:
            lines.append(f'grad_w = correlate2d({d}, {a}, mode="valid")')
        else:
            lines.append(
                f'grad_w = np.array([[correlate2d({d}[o], {a}[c], mode="valid")\n'
                f"                    for o in range({self.out_channels})]\n"
                f"                   for c in range({self.input_shape[0]})])"
            )
        if self._weight_kept():
            lines.append(
                f"grad_w = grad_w[{ch}{ch}:{(k1 - 1) * d1 + 1}:{d1}, :{(k2 - 1) * d2 + 1}:{d2}]"
            )
        return NumpyCode("\n".join(lines), planar)

    def operators(self) -> set[str]:
        ops = {"star"}
        if any(self.padding):
            ops.add("pad")
        if self.stride != (1, 1):
            ops |= {"spread", "keep"}
        if self.dilation != (1, 1):
            ops.add("dil")
        if self._weight_kept():
            ops.add("keep")
        return ops

    def facts(self) -> dict[str, Any]:
        return {
            "channels": self.input_shape[0],
            "out_channels": self.out_channels,
            "sizes": [
                {
                    "size": self.spatial[a],
                    "k": self.kernel[a],
                    "stride": self.stride[a],
                    "pad": self.padding[a],
                    "outpad": self.output_padding[a],
                    "dil": self.dilation[a],
                    "out": self.output_size[a],
                }
                for a in (0, 1)
            ],
            "padded": False,  # the input is not padded: the padding crops the output
            "cropped": any(self.padding),
            "strided": self.stride != (1, 1),
            "dilated": self.dilation != (1, 1),
            "bias": self.bias.value,
        }
