pub struct Runner;
