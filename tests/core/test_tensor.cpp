// Tensor basics: creation, dtypes, views sharing storage, copies, errors.
#include <boost/test/unit_test.hpp>

#include "tests/core/test_helpers.h"

using namespace mtfn;

BOOST_AUTO_TEST_SUITE(tensor)

BOOST_AUTO_TEST_CASE(creation_and_access) {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
  BOOST_TEST(t.dtype() == DType::F32);
  BOOST_TEST(t.numel() == 6);
  BOOST_TEST(t.size(-1) == 3);
  BOOST_TEST(t.at(4) == 5.0);
  BOOST_TEST(t.describe() == "float32 (2, 3)");
  BOOST_TEST(Tensor::zeros({3}, DType::F64).to_vector() == std::vector<double>({0, 0, 0}));
  BOOST_TEST(Tensor::full({2}, 2.5).to_vector() == std::vector<double>({2.5, 2.5}));
  BOOST_TEST(Tensor::scalar(7).item() == 7.0);
  BOOST_TEST(Tensor::scalar(7).dim() == 0);
  BOOST_TEST(reinterpret_cast<uintptr_t>(Tensor::empty({3}).raw_data()) % 64 == 0u);
}

BOOST_AUTO_TEST_CASE(views_share_storage) {
  Tensor t = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2}, DType::F64);
  Tensor v = t.view({6});
  v.data<double>()[0] = 10;
  BOOST_TEST(t.at(0) == 10.0);
  Tensor rows = t.narrow0(1, 2);
  BOOST_TEST(rows.shape() == Shape({2, 2}));
  BOOST_TEST(rows.to_vector() == std::vector<double>({3, 4, 5, 6}));
  rows.data<double>()[0] = -3;
  BOOST_TEST(t.at(2) == -3.0);
  Tensor c = t.clone();
  c.data<double>()[1] = 99;
  BOOST_TEST(t.at(1) == 2.0);
}

BOOST_AUTO_TEST_CASE(dtype_conversion) {
  Tensor t = Tensor::from_vector({0.1, 0.2}, {2}, DType::F64);
  Tensor f = t.to(DType::F32);
  BOOST_TEST(f.dtype() == DType::F32);
  BOOST_TEST(f.at(0) == static_cast<double>(0.1f));
  BOOST_TEST(ERROR_MESSAGE(t.data<float>()) == "data<float32>() on a float64 (2,) tensor");
}

BOOST_AUTO_TEST_CASE(errors_name_the_shapes) {
  BOOST_TEST(ERROR_MESSAGE(Tensor::zeros({2, 3}).view({4})) == "view: cannot view float32 (2, 3) as (4,)");
  BOOST_TEST(ERROR_MESSAGE(Tensor::zeros({2}).size(3)) == "dimension 3 out of range for shape (2,)");
  BOOST_TEST(ERROR_MESSAGE(Tensor::from_vector({1, 2}, {3})) == "from_vector: 2 values for shape (3,)");
  BOOST_TEST(ERROR_MESSAGE(Tensor().shape()) == "use of an undefined tensor");
}

BOOST_AUTO_TEST_SUITE_END()
