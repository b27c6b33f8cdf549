"""What a sheet prints for conv2d beyond its formulas: operators, NumPy code, facts."""

from __future__ import annotations

from typing import Any

from ...core.symbols import Role
from ..base import NumpyCode, spatial_axes
from .spec import Conv2dSpec


class Conv2dSheet(Conv2dSpec):
    """What a sheet prints for a conv2d beyond its formulas."""

    def operators(self) -> set[str]:
        ops = {"star", "pad", "rot180"}
        if self.stride != (1, 1):
            ops.add("spread")
        if self.dilation != (1, 1):
            ops.add("dil")
        if any(self.padding):
            ops.add("crop")
        if self.dilation != (1, 1) or self._weight_cropped():
            ops.add("keep")
        if any(self._unread()):
            ops.add("padends")
        return ops

    def numpy_code(self, role: Role) -> NumpyCode | None:
        """The gradient with SciPy: ``correlate2d`` for the weights, ``convolve2d`` (a correlation
        with the kernel rotated by 180°) for the input, after the stride's zeros are spread in.

        Example:
            >>> from symcnn import Conv2d
            >>> print(Conv2d(kernel=2, input=(3, 3)).numpy_code(Role.INPUT).text)
            grad_a = convolve2d(delta, w, mode="full")
        """
        planar = self.input_shape[0] == self.out_channels == 1
        (s1, s2), (p1, p2), (d1, d2), (k1, k2) = (
            self.stride,
            self.padding,
            self.dilation,
            self.kernel,
        )
        (h, w), (oh, ow) = self.spatial, self.output_size
        lines: list[str] = []
        ch = "" if planar else ":, "
        lead = "" if planar else f"{self.out_channels}, "
        d = "delta"
        if (s1, s2) != (1, 1):
            lines.append(
                f"ds = np.zeros(({lead}{s1 * (oh - 1) + 1}, {s2 * (ow - 1) + 1})); "
                f"ds[{ch}::{s1}, ::{s2}] = delta"
            )
            d = "ds"
        if role is Role.BIAS:
            return self.bias_code(planar)
        if role is Role.WEIGHT:
            a = "a"
            if any(self.padding):
                pads = (
                    f"({p1}, {p1}), ({p2}, {p2})"
                    if planar
                    else f"(0, 0), ({p1}, {p1}), ({p2}, {p2})"
                )
                lines.insert(0, f"ap = np.pad(a, ({pads}))")
                a = "ap"
            if planar:
                lines.append(f'grad_w = correlate2d({a}, {d}, mode="valid")')
            elif self.groups > 1:
                ci, co = self.group_in, self.group_out
                lines.append(
                    f'grad_w = np.array([[correlate2d({a}[(o // {co}) * {ci} + c], {d}[o], mode="valid")\n'
                    f"                    for c in range({ci})]\n"
                    f"                   for o in range({self.out_channels})])"
                )
            else:
                lines.append(
                    f'grad_w = np.array([[correlate2d({a}[c], {d}[o], mode="valid")\n'
                    f"                    for c in range({self.input_shape[0]})]\n"
                    f"                   for o in range({self.out_channels})])"
                )
            if self.dilation != (1, 1) or self._weight_cropped():
                keep = f"{ch}{ch}:{(k1 - 1) * d1 + 1}:{d1}, :{(k2 - 1) * d2 + 1}:{d2}"
                lines.append(f"grad_w = grad_w[{keep}]")
            return NumpyCode("\n".join(lines), planar)
        if role is not Role.INPUT:
            return None
        kernel = "w"
        if self.dilation != (1, 1):
            kshape = f"{(k1 - 1) * d1 + 1}, {(k2 - 1) * d2 + 1}"
            wlead = "" if planar else f"{self.out_channels}, {self.weight_shape[1]}, "
            lines.append(f"wd = np.zeros(({wlead}{kshape})); wd[{ch}{ch}::{d1}, ::{d2}] = w")
            kernel = "wd"
        if planar:
            lines.append(f'grad_a = convolve2d({d}, {kernel}, mode="full")')
        elif self.groups > 1:
            ci, co = self.group_in, self.group_out
            lines.append(
                f'grad_a = np.array([sum(convolve2d({d}[o], {kernel}[o, c % {ci}], mode="full")\n'
                f"                       for o in range((c // {ci}) * {co}, (c // {ci} + 1) * {co}))\n"
                f"                   for c in range({self.input_shape[0]})])"
            )
        else:
            lines.append(
                f'grad_a = np.array([sum(convolve2d({d}[o], {kernel}[o, c], mode="full")\n'
                f"                       for o in range({self.out_channels}))\n"
                f"                   for c in range({self.input_shape[0]})])"
            )
        kr, kc = (k1 - 1) * d1 + 1, (k2 - 1) * d2 + 1
        grow = (h + 2 * p1 - (s1 * (oh - 1) + kr), w + 2 * p2 - (s2 * (ow - 1) + kc))
        if any(g > 0 for g in grow):
            pads = f"(0, {max(grow[0], 0)}), (0, {max(grow[1], 0)})"
            lines.append(f"grad_a = np.pad(grad_a, ({'' if planar else '(0, 0), '}{pads}))")
        if any(self.padding):
            lines.append(f"grad_a = grad_a[{ch}{p1}:{p1 + h}, {p2}:{p2 + w}]")
        return NumpyCode("\n".join(lines), planar)

    def facts(self) -> dict[str, Any]:
        h, w = self.spatial
        return {
            "channels": self.input_shape[0],
            "axes": spatial_axes(
                (h, w), self.kernel, self.stride, self.padding, self.dilation, self.output_size
            ),
            "padded": any(self.padding),
            "strided": self.stride != (1, 1),
            "dilated": self.dilation != (1, 1),
            "bias": self.bias.value,
            "out_channels": self.out_channels,
            "groups": self.groups,
            "group_in": self.group_in,
            "group_out": self.group_out,
            "plain": self.input_shape[0] == self.out_channels == 1
            and (self.stride, self.padding, self.dilation) == ((1, 1), (0, 0), (1, 1)),
        }
