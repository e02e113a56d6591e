// Events
//
// Event-camera data: readers for AEDAT 2.0/3.1/4 and the ATIS .bin format, frame integration, augmentation, 
// the synthetic gesture set, and the preprocessed frame cache.
