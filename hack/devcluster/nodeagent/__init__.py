"""A test node agent that plays the kubelet for the GPU and CPU pools of the dev cluster."""
