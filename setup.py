from setuptools import find_packages, setup

setup(
    name='vit_scaled',
    version='0.1.0',
    description='Hardware-aware scaling of Vision Transformers on OpenMMLab',
    packages=find_packages(include=['vit_scaled', 'vit_scaled.*']),
    python_requires='>=3.10',
)
