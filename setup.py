"""vit_scaled as a package: what it imports, so that ``pip install -e .`` works in an existing
OpenMMLab environment (README, "In your own OpenMMLab environment").

torch and torchvision are required but not pinned: they come with the user's own build (CPU or
CUDA), and mmcv's compiled ops belong to that build. The versions this repository is tested with
are pinned in requirements/constraints.txt (``make install`` applies it; ENVIRONMENT notes say
why each pin is there). mmpose and mmaction2 are not in the extras themselves: their metadata asks
for packages that break an install (chumpy does not build; mmaction2 asks for
opencv-contrib-python, which replaces opencv-python's cv2), so they are installed with --no-deps
and their extras list what they really import.
"""
from setuptools import find_packages, setup

INSTALL_REQUIRES = [
    'torch',
    'torchvision',
    'mmengine>=0.10,<0.11',
    'mmcv>=2.0.0,<2.2.0',  # with its compiled ops; mmdet 3.3 and mmaction2 1.2 refuse mmcv 2.2
    'timm>=1.0',
    'numpy',
    'scipy',
    'scikit-learn',  # the embedded digits data set
    'pyyaml',
    'matplotlib',
    'pillow',
    'opencv-python',
    'pycocotools',
]

EXTRAS = {
    'det': ['mmdet>=3.0,<3.4'],
    # mmpose itself: pip install --no-deps "mmpose>=1.1,<1.4"
    'pose': ['xtcocotools', 'json-tricks', 'munkres'],
    # mmaction2 itself: pip install --no-deps "mmaction2>=1.1,<1.3"; it imports importlib_metadata
    # without declaring it.
    'video': ['importlib_metadata', 'decord', 'einops'],
    'onnx': ['onnx', 'onnxruntime'],
    'tests': ['pytest'],
}
EXTRAS['all'] = sorted({r for reqs in EXTRAS.values() for r in reqs})

setup(
    name='vit_scaled',
    version='0.1.0',
    description='Hardware-aware scaling of Vision Transformers on OpenMMLab',
    packages=find_packages(include=['vit_scaled', 'vit_scaled.*']),
    python_requires='>=3.10',
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS,
)
