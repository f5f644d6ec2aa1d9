# Produces the .npy fixtures read by npy_test.go (run with /usr/bin/python3, numpy):
#   cd npy/testdata && /usr/bin/python3 make_npy.py
import numpy as np
np.save("f32_2x3.npy", np.array([[0.5, -1.25, 3.0], [1e-8, -0.0, 65504.0]], dtype="<f4"))
np.save("i16_5.npy", np.array([-32768, -1, 0, 1, 32767], dtype="<i2"))
np.save("i32_2x2x2.npy", np.arange(-4, 4, dtype="<i4").reshape(2, 2, 2))
np.save("i64_scalar.npy", np.array(-(2**40), dtype="<i8"))
np.save("f32_0x4.npy", np.zeros((0, 4), dtype="<f4"))
