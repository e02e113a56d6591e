// SpikingNN
//
// Spiking transformer layers with explicit forward and backward passes, the multi-step LIF neuron with its 
// surrogate gradient, the Spikformer model built from YAML, AdamW, the trainer, and safetensors checkpoints.
