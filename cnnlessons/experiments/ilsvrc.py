"""The ILSVRC classification results, 2010-2017: each year's winning entry with its sources.

From 2012 on every winning entry averaged several CNNs (an ensemble), so a year's error is not
one network's; ``IlsvrcResult.label`` names the ensemble and its deepest member's depth where
the authors published it. Errors are top-5 test errors of entries trained on the ILSVRC data
only (AlexNet's winning entry also used extra data: 15.3%, in its ``source``).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IlsvrcResult:
    """The winning ILSVRC classification entry of one year (and VGG, 2014's runner-up).

    From 2012 on every winning entry averaged several CNNs (an ensemble); ``deepest`` is the
    depth of its deepest member where the authors published it."""

    year: int
    entry: str
    top5: float              # top-5 test error, %, trained on the ILSVRC data only
    members: str             # what the entry averaged ("5 CNNs"); "" for the hand-designed winners
    deepest: int | None      # weighted layers of the deepest member CNN; None: no CNN, or not published
    source: str
    cnn: bool = True         # False for the pre-CNN winners (hand-designed features + SVMs)

    @property
    def label(self) -> str:
        """How a chart names the entry's networks: "ensemble of 5 CNNs; deepest 8 layers"."""
        if not self.cnn:
            return "hand-designed features"
        deepest = f"deepest {self.deepest} layers" if self.deepest else "depths not published"
        return f"ensemble of {self.members}; {deepest}"


ILSVRC: tuple[IlsvrcResult, ...] = (
    IlsvrcResult(2010, "NEC-UIUC", 28.2, "", None, "ILSVRC 2010 results; shallow features + SVMs", cnn=False),
    IlsvrcResult(2011, "XRCE", 25.8, "", None, "ILSVRC 2011 results; Fisher vectors + SVMs", cnn=False),
    IlsvrcResult(2012, "AlexNet", 16.4, "5 CNNs", 8,
                 "Krizhevsky et al. 2012: the average of five CNNs; the entry that won averaged seven, two of "
                 "them pre-trained on extra data with a sixth conv layer (15.3%)"),
    IlsvrcResult(2013, "Clarifai", 11.7, "several CNNs", None,
                 "ILSVRC 2013 results (Russakovsky et al. 2015): several CNNs averaged, their architectures "
                 "chosen with Zeiler & Fergus's visualisations; one of them alone: 12.5% (Simonyan & Zisserman, "
                 "Table 7)"),
    IlsvrcResult(2014, "VGG (runner-up)", 7.3, "7 CNNs", 19,
                 "Simonyan & Zisserman 2014, Tables 6-7: the submission averaged 7 nets (configurations C, D, "
                 "E); two nets after the challenge, 6.8%"),
    IlsvrcResult(2014, "GoogLeNet", 6.67, "7 CNNs, 144 crops each", 22,
                 "Szegedy et al. 2014: 7 versions of GoogLeNet, 144 crops per image"),
    IlsvrcResult(2015, "ResNet", 3.57, "6 CNNs", 152, "He et al. 2015: six models of different depth"),
    IlsvrcResult(2016, "Trimps-Soushen", 2.99, "several CNNs", None,
                 "ILSVRC 2016 results: Inception, Inception-ResNet, ResNet and Wide ResNet models averaged"),
    IlsvrcResult(2017, "SENet", 2.25, "SE networks", 154,
                 "Hu et al. 2017: a small ensemble of SE networks, SENet-154 among them (2.251%)"),
)
HUMAN_TOP5 = 5.1
HUMAN_SOURCE = "Russakovsky et al., ImageNet Large Scale Visual Recognition Challenge, IJCV 2015"
