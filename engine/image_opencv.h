// OpenCV's cv::resize with INTER_LINEAR on 8-bit images, reproduced to the last bit (the
// resize PaddleClas's ResizeImage runs). Checked against Debian's OpenCV 4.6 (python3-opencv)
// by tools/make_preprocess_goldens.py and tests/test_image.cpp.
#pragma once
#include "image.h"

namespace vitscope {

// cv2.resize(im, (width, height), interpolation=cv2.INTER_LINEAR) on an 8-bit image:
//  - the same size: a copy;
//  - exactly half in both directions: each output is the rounded mean of a 2x2 block
//    ((a + b + c + d + 2) >> 2), as OpenCV switches to its fast area resize there;
//  - otherwise: pixel-centre-aligned bilinear, in OpenCV's fixed point: the float source
//    coordinate's fraction rounded to 11 bits (weights w0 + w1 = 2048), an exact integer
//    horizontal pass, then a vertical pass that, as OpenCV's SIMD code does for every pixel,
//    drops the low 4 bits of each row sum, keeps the high 16 bits of the products with the
//    vertical weights and rounds off the last 2 bits.
Image cv_resize_linear(const Image& im, int width, int height);

// PaddleClas's eval resize and crop (ppcls/data/preprocess/ops/operators.py): ResizeImage
// (resize_short: the shorter side to S, each side int(round(side * S / shorter)) with Python's
// ties-to-even; or size: straight to resize_width x resize_height), with cv2.resize
// INTER_LINEAR (pre.opencv) or PIL's bilinear, then CropImage (offsets (have - want) // 2)
// to pre.width x pre.height when pre.center_crop. Appends what it did to `what`.
Image paddle_resize_crop(const Image& im, const Preprocess& pre, std::string& what);

}  // namespace vitscope
