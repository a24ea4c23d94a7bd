"""Small networks, one per activation form the IR must recognise."""

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout))


class ModuleActNet(nn.Module):
    """conv-BN-act twice, then a head; ``act`` is an activation module factory."""

    def __init__(self, act=nn.ReLU, width=8):
        super().__init__()
        self.b1, self.a1 = conv_block(3, width), act()
        self.b2, self.a2 = conv_block(width, width), act()
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        x = self.a1(self.b1(x))
        x = self.a2(self.b2(x))
        return self.head(x.mean((2, 3)))


class FunctionalNet(nn.Module):
    """Activations as functions and methods: F.relu, clamp(min=0), x * sigmoid(x), F.gelu."""

    def __init__(self, form: str, width=8):
        super().__init__()
        self.form = form
        self.b1, self.b2 = conv_block(3, width), conv_block(width, width)
        self.head = nn.Linear(width, 10)

    def act(self, x):
        if self.form == "relu":
            return F.relu(x)
        if self.form == "clamp":
            return torch.clamp(x, min=0)
        if self.form == "method_relu":
            return x.relu()
        if self.form == "silu_decomposed":
            return x * torch.sigmoid(x)
        if self.form == "gelu_erf":
            return x * 0.5 * (1.0 + torch.erf(x / 1.41421356))
        if self.form == "hardswish_decomposed":
            return x * F.hardsigmoid(x)
        raise ValueError(self.form)

    def forward(self, x):
        x = self.act(self.b1(x))
        x = self.act(self.b2(x))
        return self.head(x.mean((2, 3)))


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self, width=8):
        super().__init__()
        self.b1, self.a1 = conv_block(3, width), nn.ReLU()
        self.b2, self.a2 = conv_block(width, width), nn.ReLU()

    def forward(self, x):
        x = self.a1(self.b1(x))
        if x.sum() > 0:
            x = self.a2(self.b2(x))
        return x.mean((2, 3))


class Residual(nn.Module):
    """A value feeding two activations and a residual add: sites must not be double counted."""

    def __init__(self, width=8):
        super().__init__()
        self.stem, self.a0 = conv_block(3, width), nn.ReLU()
        self.b1, self.a1 = conv_block(width, width), nn.ReLU(inplace=True)
        self.b2 = conv_block(width, width)

    def forward(self, x):
        x = self.a0(self.stem(x))
        y = self.a1(self.b1(x))
        return F.relu(self.b2(y) + x)


class NoActivation(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)

    def forward(self, x):
        return self.conv(x)


class TanhNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.act = nn.Conv2d(3, 4, 3), nn.Tanh()

    def forward(self, x):
        return self.act(self.conv(x))


def tanh_net():
    return TanhNet()


def no_activation():
    return NoActivation()


def small_relu():
    return ModuleActNet(nn.ReLU)


class MemoryHog(ModuleActNet):
    """Runs at the IR's 2-sample probe, then fails to allocate at the scoring batch."""

    def forward(self, x):
        if x.shape[0] > 2:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
        return super().forward(x)


class Overflowing(ModuleActNet):
    def forward(self, x):
        return super().forward(x) * 1e30 * 1e30


def memory_hog():
    return MemoryHog()


def overflowing():
    return Overflowing()


def mlp():
    """A plain MLP on 3x8x8 inputs: channel groups, but no kernel or residual block."""
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 64), nn.ReLU(), nn.Linear(64, 32), nn.ReLU(),
                         nn.Linear(32, 10))


def linear_only():
    """Nothing a model space can vary: the one layer's width is the output's."""
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 10))


def resnet18_c10():
    import torchvision

    return torchvision.models.resnet18(num_classes=10)


def mobilenet_v2_c10():
    import torchvision

    return torchvision.models.mobilenet_v2(num_classes=10)


def untraceable_net():
    return Untraceable()
